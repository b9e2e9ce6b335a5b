"""Differential privacy: the accountant's epsilon, calibration, the budget stop, client
clipping and noise (one client or many at once), DP-SGD training, and a client's local
update with its job's privacy."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import dp_accounting
import numpy as np
import pytest
from dp_accounting.pld import PLDAccountant
from dp_accounting.rdp import RdpAccountant
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from opacus.accountants import RDPAccountant as OpacusRdp

from dain.data import load_bundled
from dain.learning import (
    ModelSpec,
    PrivacyError,
    PrivacyLevel,
    PrivacySpec,
    TrainConfig,
    budget_allows,
    calibrate,
    clip_and_noise,
    clip_and_noise_rows,
    feature_statistics,
    init_params,
    local_update,
    subtract,
    train_local,
    train_local_dp,
)
from dain.learning.privacy import RDP_ORDERS

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


def test_clipping_and_noise_give_the_numbers_they_gave_before_working_on_rows() -> None:
    # recorded from clip_and_noise at f3860a6, when it worked tensor by tensor
    recorded = json.loads((Path(__file__).parent / "recorded_values.json").read_text())
    update = {"0.weight": np.array([[0.3, -0.4, 1.2], [0.0, 0.25, -0.5]], np.float32),
              "0.bias": np.array([0.7, -0.1], np.float32)}  # fmt: skip
    for clip, expected in recorded["clip_and_noise"].items():
        spec = PrivacySpec(PrivacyLevel.CLIENT, 1.1, float(clip), clients=4)
        noisy, norm = clip_and_noise(update, spec, np.random.default_rng(5))
        assert list(noisy) == list(update) and norm == pytest.approx(expected["norm"], rel=1e-12)
        for name, value in expected["update"].items():
            np.testing.assert_array_equal(noisy[name], np.asarray(value, np.float32))


@settings(max_examples=30, deadline=None)
@given(
    rows=st.integers(1, 6).flatmap(
        lambda n: arrays(np.float32, (n, 7), elements=st.floats(-100, 100, width=32))
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_many_clients_at_once_get_what_each_would_get_alone(rows: np.ndarray, seed: int) -> None:
    together, norms = clip_and_noise_rows(rows, CLIENT, np.random.default_rng(seed))
    one_by_one = np.random.default_rng(seed)
    for row, noisy, norm in zip(rows, together, norms, strict=True):
        alone, alone_norm = clip_and_noise({"a": row[:3], "b": row[3:]}, CLIENT, one_by_one)
        np.testing.assert_array_equal(np.concatenate([alone["a"], alone["b"]]), noisy)
        assert alone_norm == pytest.approx(norm, rel=1e-12)
    # with no noise to speak of, every row ends at norm min(C, its norm)
    quiet = PrivacySpec(PrivacyLevel.CLIENT, 1e-9, 0.5, clients=1)
    clipped, _ = clip_and_noise_rows(rows, quiet, np.random.default_rng(seed))
    expected = np.minimum(0.5, np.linalg.norm(rows.astype(np.float64), axis=1))
    np.testing.assert_allclose(np.linalg.norm(clipped, axis=1), expected, rtol=1e-4, atol=1e-6)


def test_rows_draw_noise_a_block_at_a_time_without_changing_it() -> None:
    # three rows of 2M values: noise is drawn for two rows, then one (NOISE_BLOCK is 4M)
    rows = np.ones((3, 1 << 21), np.float32)
    whole, _ = clip_and_noise_rows(rows, CLIENT, np.random.default_rng(2))
    one_by_one = np.random.default_rng(2)
    for row, noisy in zip(rows, whole, strict=True):
        np.testing.assert_array_equal(clip_and_noise_rows(row[None], CLIENT, one_by_one)[0][0],
                                      noisy)  # fmt: skip


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


@pytest.mark.parametrize("level", list(PrivacyLevel))
def test_a_local_update_is_the_steps_a_node_took_one_by_one(level: PrivacyLevel) -> None:
    # what dain.node's round code did before local_update: train (DP-SGD at record level,
    # with the proximal term otherwise), subtract, then clip and noise at client level
    spec, params, x, y = _digits_job()
    config = TrainConfig(0.1, 1, 32)
    privacy = {PrivacyLevel.NONE: PrivacySpec(),
               PrivacyLevel.RECORD: PrivacySpec(level, 0.8, 0.5, sample_rate=0.05, steps=4),
               PrivacyLevel.CLIENT: CLIENT}[level]  # fmt: skip
    if level == PrivacyLevel.RECORD:
        trained = train_local_dp(spec, params, x, y, config, 11, privacy)
    else:
        trained = train_local(spec, params, x, y, config, 11, proximal_mu=0.3)
    expected = subtract(trained.params, params)
    if level == PrivacyLevel.CLIENT:
        expected, _ = clip_and_noise(expected, privacy, np.random.default_rng(11))

    update = local_update(spec, params, x, y, config, privacy, seed=11, proximal_mu=0.3,
                          noise_rng=np.random.default_rng(11))  # fmt: skip

    assert update.num_examples == 300 and list(update.delta) == list(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(update.delta[name], value)


def test_client_level_noise_comes_only_from_the_generator_passed_in() -> None:
    spec, params, x, y = _digits_job()
    config = TrainConfig(0.1, 1, 32)

    def delta(noise_seed: int) -> np.ndarray:
        update = local_update(spec, params, x, y, config, CLIENT, seed=3,
                              noise_rng=np.random.default_rng(noise_seed))  # fmt: skip
        return update.delta["0.weight"]

    assert np.array_equal(delta(1), delta(1)) and not np.array_equal(delta(1), delta(2))
    with pytest.raises(PrivacyError, match="random generator"):
        local_update(spec, params, x, y, config, CLIENT, seed=3)
