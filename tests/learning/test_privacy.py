"""Differential privacy: the accountant's epsilon, calibration, the budget stop, client
clipping and noise, and DP-SGD training."""

from __future__ import annotations

import itertools
import math

import dp_accounting
import numpy as np
import pytest
from dp_accounting.pld import PLDAccountant
from dp_accounting.rdp import RdpAccountant
from opacus.accountants import RDPAccountant as OpacusRdp

from dain.data import load_bundled
from dain.learning import ModelSpec, TrainConfig, feature_statistics, init_params, subtract
from dain.learning.dp_sgd import train_local_dp
from dain.learning.errors import PrivacyError
from dain.learning.privacy import (
    RDP_ORDERS,
    PrivacyLevel,
    PrivacySpec,
    budget_allows,
    calibrate,
    clip_and_noise,
)

RECORD = PrivacySpec(PrivacyLevel.RECORD, 1.1, 1.0, 1e-5, sample_rate=0.04, steps=25)
CLIENT = PrivacySpec(PrivacyLevel.CLIENT, 1.5, 0.5, 1e-5, clients=8)


@pytest.mark.parametrize("rounds", [1, 5, 20])
def test_record_level_epsilon_is_dp_accounting_for_the_whole_dp_sgd_run(rounds: int) -> None:
    # the node accounts round by round; dp-accounting sees the run as one long DP-SGD
    whole = RdpAccountant(RDP_ORDERS)
    step = dp_accounting.PoissonSampledDpEvent(0.04, dp_accounting.GaussianDpEvent(1.1))
    whole.compose(dp_accounting.SelfComposedDpEvent(step, 25 * rounds))
    assert RECORD.epsilon(rounds) == pytest.approx(whole.get_epsilon(1e-5), rel=1e-9)
    # Opacus' own accountant, the same analysis with other orders, agrees within 5%
    opacus = OpacusRdp()
    opacus.history = [(1.1, 0.04, 25 * rounds)]
    assert RECORD.epsilon(rounds) == pytest.approx(opacus.get_epsilon(1e-5), rel=0.05)


@pytest.mark.parametrize("rounds", [1, 10, 50])
def test_client_level_epsilon_is_the_composed_gaussian_mechanism(rounds: int) -> None:
    rdp = RdpAccountant(RDP_ORDERS)
    rdp.compose(dp_accounting.GaussianDpEvent(1.5), rounds)
    assert CLIENT.epsilon(rounds) == pytest.approx(rdp.get_epsilon(1e-5), rel=1e-9)
    # a privacy-loss-distribution accountant is tighter; RDP is an upper bound close to it
    pld = PLDAccountant()
    pld.compose(dp_accounting.GaussianDpEvent(1.5), rounds)
    assert pld.get_epsilon(1e-5) <= CLIENT.epsilon(rounds) <= 1.5 * pld.get_epsilon(1e-5)


def test_epsilon_grows_with_rounds_and_is_infinite_without_privacy() -> None:
    values = [RECORD.epsilon(r) for r in range(0, 6)]
    assert values[0] == 0.0 and all(a < b for a, b in itertools.pairwise(values))
    assert PrivacySpec().epsilon(3) == math.inf


@pytest.mark.parametrize("target", [1.0, 3.0, 8.0])
@pytest.mark.parametrize("base", [RECORD, CLIENT])
def test_calibration_meets_the_target_with_the_least_noise(
    target: float, base: PrivacySpec
) -> None:
    spec = calibrate(base, target, rounds=20)
    assert spec.epsilon(20) <= target
    lighter = PrivacySpec(spec.level, spec.noise_multiplier * 0.97, spec.clip_norm, spec.delta,
                          spec.sample_rate, spec.steps, spec.clients)  # fmt: skip
    assert lighter.epsilon(20) > target


def test_the_budget_stops_a_node_before_the_round_that_would_exceed_it() -> None:
    limit = RECORD.epsilon(3) + 1e-9
    assert [budget_allows(RECORD, taken, limit) for taken in range(5)] == [
        True, True, True, False, False,
    ]  # fmt: skip
    assert budget_allows(RECORD, 100, None)  # the policy sets no limit
    assert not budget_allows(PrivacySpec(), 0, 10.0)  # a non-private job exceeds any limit


def test_bad_privacy_settings_are_named() -> None:
    with pytest.raises(PrivacyError, match="noise multiplier"):
        PrivacySpec(PrivacyLevel.CLIENT, 0.0)
    with pytest.raises(PrivacyError, match="sample rate"):
        PrivacySpec(PrivacyLevel.RECORD, 1.0, sample_rate=0.0, steps=3)
    with pytest.raises(PrivacyError, match="malformed"):
        PrivacySpec.from_dict({"level": "record", "steps": "many"})
    assert PrivacySpec.from_dict(RECORD.to_dict()) == RECORD


def test_client_updates_are_clipped_and_carry_their_share_of_noise() -> None:
    rng = np.random.default_rng(0)
    big = {"w": np.full((200, 50), 3.0, dtype=np.float32)}
    quiet = PrivacySpec(PrivacyLevel.CLIENT, 1e-6, 0.5, clients=4)
    clipped, norm = clip_and_noise(big, quiet, rng)
    assert norm == pytest.approx(3.0 * 100)
    assert float(np.linalg.norm(clipped["w"])) == pytest.approx(0.5, rel=1e-3)
    zero = {"w": np.zeros((400, 250), dtype=np.float32)}
    noisy, _ = clip_and_noise(zero, CLIENT, rng)
    # each of 8 clients adds N(0, (sigma C)^2 / 8): their sum has std sigma C
    assert float(np.std(noisy["w"])) == pytest.approx(1.5 * 0.5 / math.sqrt(8), rel=0.02)


def _digits_job() -> tuple[ModelSpec, dict, np.ndarray, np.ndarray]:
    data = load_bundled("digits")
    mean, scale = feature_statistics(data.x)
    spec = ModelSpec("mlp", data.num_features, data.num_classes, (32,), mean, scale)
    return spec, init_params(spec, 1), data.x[:300], data.y[:300]


def test_dp_sgd_is_reproducible_per_seed_and_its_steps_are_bounded() -> None:
    spec, params, x, y = _digits_job()
    config = TrainConfig(0.1, 1, 16)
    privacy = PrivacySpec(PrivacyLevel.RECORD, 0.8, 0.5, 1e-5, sample_rate=0.05, steps=10)
    first = train_local_dp(spec, params, x, y, config, 7, privacy)
    again = train_local_dp(spec, params, x, y, config, 7, privacy)
    other = train_local_dp(spec, params, x, y, config, 8, privacy)
    assert all(np.array_equal(first.params[k], again.params[k]) for k in params)
    assert not all(np.array_equal(first.params[k], other.params[k]) for k in params)
    assert first.num_examples == 300
    # with no noise, each step moves the model by at most lr * C * (batch / expected batch)
    silent = PrivacySpec(PrivacyLevel.RECORD, 1e-9, 0.01, 1e-5, sample_rate=0.05, steps=10)
    moved = subtract(train_local_dp(spec, params, x, y, config, 7, silent).params, params)
    size = math.sqrt(sum(float(np.sum(v.astype(np.float64) ** 2)) for v in moved.values()))
    assert 0 < size <= 10 * 0.1 * 0.01 * 2.5


def test_dp_sgd_refuses_other_levels() -> None:
    spec, params, x, y = _digits_job()
    with pytest.raises(PrivacyError, match="record-level"):
        train_local_dp(spec, params, x, y, TrainConfig(), 1, CLIENT)
