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
    big = {"w": np.full((200, 50), 3.0, dtype=np.float32)}
    quiet = PrivacySpec(PrivacyLevel.CLIENT, 1e-6, 0.5, clients=4)
    clipped, norm = clip_and_noise(big, quiet)
    assert norm == pytest.approx(3.0 * 100)
    assert float(np.linalg.norm(clipped["w"])) == pytest.approx(0.5, rel=1e-3)
    zero = {"w": np.zeros((400, 250), dtype=np.float32)}
    noisy, _ = clip_and_noise(zero, CLIENT)
    # each of 8 clients adds N(0, (sigma C)^2 / 8): their sum has std sigma C
    assert float(np.std(noisy["w"])) == pytest.approx(1.5 * 0.5 / math.sqrt(8), rel=0.02)
    # and the noise is new on every call: no two clients, no two rounds share it
    again, _ = clip_and_noise(zero, CLIENT)
    assert abs(np.corrcoef(noisy["w"].ravel(), again["w"].ravel())[0, 1]) < 0.02


def test_simulated_noise_gives_the_numbers_it_gave_before_working_on_rows() -> None:
    # recorded from clip_and_noise at f3860a6, when it worked tensor by tensor with the
    # generator passed in: dain sim's seeded noise still draws the same numbers
    recorded = json.loads((Path(__file__).parent / "recorded_values.json").read_text())
    update = {"0.weight": np.array([[0.3, -0.4, 1.2], [0.0, 0.25, -0.5]], np.float32),
              "0.bias": np.array([0.7, -0.1], np.float32)}  # fmt: skip
    row = np.concatenate([v.reshape(-1) for v in update.values()])[None]
    for clip, expected in recorded["clip_and_noise"].items():
        spec = PrivacySpec(PrivacyLevel.CLIENT, 1.1, float(clip), clients=4)
        noisy, norm = clip_and_noise_rows(row, spec, insecure_rng=np.random.default_rng(5))
        assert float(norm[0]) == pytest.approx(expected["norm"], rel=1e-12)
        values = np.concatenate([np.ravel(expected["update"][n]) for n in update])
        np.testing.assert_array_equal(noisy[0], values.astype(np.float32))


@settings(max_examples=30, deadline=None)
@given(
    rows=st.integers(1, 6).flatmap(
        lambda n: arrays(np.float32, (n, 7), elements=st.floats(-100, 100, width=32))
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_many_clients_at_once_get_what_each_would_get_alone(rows: np.ndarray, seed: int) -> None:
    # with a simulation's seeded generator: the same numbers, row by row
    together, norms = clip_and_noise_rows(rows, CLIENT, insecure_rng=np.random.default_rng(seed))
    one_by_one = np.random.default_rng(seed)
    for row, noisy, norm in zip(rows, together, norms, strict=True):
        alone, alone_norm = clip_and_noise_rows(row[None], CLIENT, insecure_rng=one_by_one)
        np.testing.assert_array_equal(alone[0], noisy)
        assert float(alone_norm[0]) == pytest.approx(norm, rel=1e-12)
    # with no noise to speak of, every row ends at norm min(C, its norm), whatever the source
    quiet = PrivacySpec(PrivacyLevel.CLIENT, 1e-9, 0.5, clients=1)
    expected = np.minimum(0.5, np.linalg.norm(rows.astype(np.float64), axis=1))
    for clipped in (
        clip_and_noise_rows(rows, quiet)[0],
        clip_and_noise_rows(rows, quiet, insecure_rng=np.random.default_rng(seed))[0],
    ):
        np.testing.assert_allclose(np.linalg.norm(clipped, axis=1), expected, rtol=1e-4, atol=1e-6)
    for row, norm in zip(rows, expected, strict=True):
        alone, _ = clip_and_noise({"a": row[:3], "b": row[3:]}, quiet)
        whole = np.concatenate([alone["a"], alone["b"]])
        assert float(np.linalg.norm(whole)) == pytest.approx(norm, rel=1e-4, abs=1e-6)


def test_rows_draw_noise_a_block_at_a_time_without_changing_it() -> None:
    # three rows of 2M values: noise is drawn for two rows, then one (NOISE_BLOCK is 4M)
    rows = np.ones((3, 1 << 21), np.float32)
    whole, _ = clip_and_noise_rows(rows, CLIENT, insecure_rng=np.random.default_rng(2))
    one_by_one = np.random.default_rng(2)
    for row, noisy in zip(rows, whole, strict=True):
        alone, _ = clip_and_noise_rows(row[None], CLIENT, insecure_rng=one_by_one)
        np.testing.assert_array_equal(alone[0], noisy)


def _digits_job() -> tuple[ModelSpec, dict, np.ndarray, np.ndarray]:
    data = load_bundled("digits")
    mean, scale = feature_statistics(data.x)
    spec = ModelSpec("mlp", data.num_features, data.num_classes, (32,), mean, scale)
    return spec, init_params(spec, 1), data.x[:300], data.y[:300]


def _flat(update: dict) -> np.ndarray:
    return np.concatenate([v.reshape(-1) for v in update.values()]).astype(np.float64)


def test_dp_sgd_differs_on_every_run_and_its_steps_are_bounded() -> None:
    spec, params, x, y = _digits_job()
    config = TrainConfig(0.1, 1, 16)
    privacy = PrivacySpec(PrivacyLevel.RECORD, 0.8, 0.5, 1e-5, sample_rate=0.05, steps=10)
    first = train_local_dp(spec, params, x, y, config, privacy)
    again = train_local_dp(spec, params, x, y, config, privacy)
    # the same inputs, another draw of sampling and noise: no two runs alike
    assert all(not np.array_equal(first.params[k], again.params[k]) for k in params)
    assert first.num_examples == 300
    # with no noise, each step moves the model by at most lr * C * (batch / expected batch)
    silent = PrivacySpec(PrivacyLevel.RECORD, 1e-9, 0.01, 1e-5, sample_rate=0.05, steps=10)
    moved = subtract(train_local_dp(spec, params, x, y, config, silent).params, params)
    assert 0 < float(np.linalg.norm(_flat(moved))) <= 10 * 0.1 * 0.01 * 2.5


@pytest.mark.parametrize("sample_rate", [0.05, 1e-9])
def test_dp_sgd_adds_the_noise_the_accountant_counts(sample_rate: float) -> None:
    # noise so loud that the clipped gradients (at most C a record) vanish under it: what
    # the model moved by is the noise, N(0, (sigma C)^2) a step on the batch's sum divided
    # by the expected batch. At q ~ 0, no record is ever sampled and every step is noise
    # alone: a step that moved nothing would tell that its batch was empty.
    spec, params, x, y = _digits_job()
    config = TrainConfig(0.1, 1, 16)
    privacy = PrivacySpec(PrivacyLevel.RECORD, 200.0, 0.05, 1e-5, sample_rate=sample_rate,
                          steps=4)  # fmt: skip
    moved = _flat(subtract(train_local_dp(spec, params, x, y, config, privacy).params, params))
    expected_batch = max(1, round(sample_rate * 300))
    per_step = 0.1 * 200.0 * 0.05 / expected_batch
    # 2410 coordinates: the standard deviation within 8% and the mean within 0.25 steps'
    # noise are both six standard errors
    assert float(np.std(moved)) == pytest.approx(per_step * math.sqrt(4), rel=0.08)
    assert abs(float(np.mean(moved))) < 0.25 * per_step


def test_dp_sgd_refuses_other_levels() -> None:
    spec, params, x, y = _digits_job()
    with pytest.raises(PrivacyError, match="record-level"):
        train_local_dp(spec, params, x, y, TrainConfig(), CLIENT)


@pytest.mark.parametrize("level", list(PrivacyLevel))
def test_a_local_update_is_the_steps_a_node_took_one_by_one(level: PrivacyLevel) -> None:
    # what dain.node's round code did before local_update: train (DP-SGD at record level,
    # with the proximal term otherwise), subtract, then clip and noise at client level. The
    # noise is new on every run, so here it is made negligible, and DP-SGD samples every
    # record (q = 1) so that both runs take the same steps
    spec, params, x, y = _digits_job()
    config = TrainConfig(0.1, 1, 32)
    privacy = {
        PrivacyLevel.NONE: PrivacySpec(),
        PrivacyLevel.RECORD: PrivacySpec(PrivacyLevel.RECORD, 1e-9, 0.5, sample_rate=1.0, steps=4),
        PrivacyLevel.CLIENT: PrivacySpec(PrivacyLevel.CLIENT, 1e-9, 0.5, clients=8),
    }[level]
    if level == PrivacyLevel.RECORD:
        trained = train_local_dp(spec, params, x, y, config, privacy)
    else:
        trained = train_local(spec, params, x, y, config, 11, proximal_mu=0.3)
    expected = subtract(trained.params, params)
    if level == PrivacyLevel.CLIENT:
        norm = float(np.linalg.norm(_flat(expected)))
        expected = {k: v * min(1.0, 0.5 / norm) for k, v in expected.items()}

    update = local_update(spec, params, x, y, config, privacy, seed=11, proximal_mu=0.3)

    assert update.num_examples == 300 and list(update.delta) == list(expected)
    for name, value in expected.items():
        if level == PrivacyLevel.NONE:
            np.testing.assert_array_equal(update.delta[name], value)
        else:
            np.testing.assert_allclose(update.delta[name], value, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("level", [PrivacyLevel.RECORD, PrivacyLevel.CLIENT])
def test_a_private_local_update_is_never_the_same_twice(level: PrivacyLevel) -> None:
    # the same seed, data and model: the privacy noise does not follow any of them
    spec, params, x, y = _digits_job()
    config = TrainConfig(0.1, 1, 32)
    privacy = RECORD if level == PrivacyLevel.RECORD else CLIENT
    first, again = (local_update(spec, params, x, y, config, privacy, seed=3).delta
                    for _ in range(2))  # fmt: skip
    assert not np.array_equal(_flat(first), _flat(again))
