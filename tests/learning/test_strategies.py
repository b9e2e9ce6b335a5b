"""Every strategy against a hand-computed result on small inputs, the properties the
robust ones promise, and the stateful form dain.node still uses."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dain.learning import (
    STRATEGY_NAMES,
    AggregationError,
    ClientUpdate,
    ModelSpec,
    ServerState,
    TrainConfig,
    make_strategy,
)
from dain.node import JobSpec, ProtocolError

ZERO = {"w": np.zeros(2, dtype=np.float32)}


def _updates(rows: list[list[float]], counts: list[int] | None = None) -> list[ClientUpdate]:
    counts = counts or [1] * len(rows)
    return [
        ClientUpdate({"w": np.asarray(r, np.float32)}, n) for r, n in zip(rows, counts, strict=True)
    ]


def _w(
    name: str, rows: list[list[float]], counts: list[int] | None = None, **options
) -> np.ndarray:  # type: ignore[no-untyped-def]
    params, _ = make_strategy(name, **options).aggregate(
        ServerState(), ZERO, _updates(rows, counts)
    )
    return params["w"]


def test_fedavg_is_the_example_weighted_mean() -> None:
    np.testing.assert_allclose(_w("fedavg", [[1, 0], [0, 1]], [30, 10]), [0.75, 0.25])


def test_fedavgm_adds_server_momentum_across_rounds() -> None:
    strategy = make_strategy("fedavgm", server_lr=1.0, momentum=0.5)
    first, state = strategy.aggregate(ServerState(), ZERO, _updates([[2, 0]]))
    second, state = strategy.aggregate(state, first, _updates([[2, 0]]))
    np.testing.assert_allclose(first["w"], [2, 0])  # m = 2
    np.testing.assert_allclose(second["w"], [2 + 3, 0])  # m = 0.5 * 2 + 2 = 3
    np.testing.assert_allclose(state.m["w"], [3, 0])


def test_fedprox_averages_like_fedavg_and_asks_clients_for_a_proximal_term() -> None:
    strategy = make_strategy("fedprox", proximal_mu=0.1)
    assert strategy.proximal_mu == 0.1
    np.testing.assert_allclose(strategy.combine(_updates([[1, 3], [3, 1]]))["w"], [2, 2])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # m = 0.1 d, v = d^2 (adagrad) / 0.01 d^2 (adam) / 0.01 d^2 (yogi, v0 = 0);
        # step = lr m / (sqrt(v) + tau), lr = 0.1, tau = 1e-3, d = (2, -1)
        ("fedadagrad", [0.1 * 0.2 / (2 + 1e-3), 0.1 * -0.1 / (1 + 1e-3)]),
        ("fedadam", [0.1 * 0.2 / (0.2 + 1e-3), 0.1 * -0.1 / (0.1 + 1e-3)]),
        ("fedyogi", [0.1 * 0.2 / (0.2 + 1e-3), 0.1 * -0.1 / (0.1 + 1e-3)]),
    ],
)
def test_adaptive_server_optimizers_take_their_first_step(name: str, expected: list[float]) -> None:
    np.testing.assert_allclose(_w(name, [[2, -1]]), expected, rtol=1e-5)


def test_adaptive_state_survives_a_hand_over_to_another_aggregator() -> None:
    strategy = make_strategy("fedadam")
    after_one, state = strategy.aggregate(ServerState(), ZERO, _updates([[1, 1]]))
    stored = state.to_params()  # what the blob carries to the next round's aggregator
    assert set(stored) == {"m.w", "v.w"}
    again, _ = make_strategy("fedadam").aggregate(
        ServerState.from_params(stored), after_one, _updates([[1, -1]])
    )
    same, _ = strategy.aggregate(state, after_one, _updates([[1, -1]]))
    np.testing.assert_array_equal(again["w"], same["w"])
    fresh, _ = strategy.aggregate(ServerState(), after_one, _updates([[1, -1]]))
    assert not np.allclose(fresh["w"], same["w"])  # the state mattered


def test_median_trimmed_mean_krum_multikrum_and_bulyan_by_hand() -> None:
    rows = [[1, 10], [2, 20], [3, 30], [4, 40], [100, -100]]
    # columns sorted: (1, 2, 3, 4, 100) and (-100, 10, 20, 30, 40)
    np.testing.assert_allclose(_w("fedmedian", rows), [3, 20])
    np.testing.assert_allclose(_w("trimmedmean", rows, trim=0.2), [3, 20])  # drops 1 each end
    # Krum (f = 1): each row's summed squared distance to its n - f - 2 = 2 nearest others:
    # 505, 202, 202, 505 and huge: one of the tied [2, 20] and [3, 30] (by content, not order)
    assert _w("krum", rows, byzantine=1).tolist() in ([2, 20], [3, 30])
    # Multi-Krum keeps the n - f = 4 best-scored and averages them: the outlier is gone
    np.testing.assert_allclose(_w("multikrum", rows, byzantine=1), [2.5, 25])
    seven = [[1, 1], [2, 2], [3, 3], [4, 4], [5, 5], [6, 6], [-500, 500]]
    # Bulyan (f = 1, n = 7): Krum picks 5, then per coordinate the 3 nearest the median
    assert abs(_w("bulyan", seven, byzantine=1)[0] - 3.0) <= 1.0


def test_robust_rules_refuse_too_few_updates() -> None:
    with pytest.raises(AggregationError, match="Bulyan needs"):
        _w("bulyan", [[1, 1]] * 6, byzantine=1)
    with pytest.raises(AggregationError, match="Krum needs"):
        _w("krum", [[1, 1]] * 3, byzantine=1)


def test_strategies_that_inspect_each_update_are_refused_with_secure_aggregation() -> None:
    for name in STRATEGY_NAMES:
        spec = JobSpec("x", ModelSpec("logreg", 4, 2), TrainConfig(), strategy=name)
        if make_strategy(name).needs_individual_updates:
            with pytest.raises(ProtocolError, match="secure aggregation hides"):
                spec.check_terms(secure_aggregation=True)
        else:
            spec.check_terms(secure_aggregation=True)
        spec.check_terms(secure_aggregation=False)
    with pytest.raises(ProtocolError, match="Strategies:"):
        JobSpec("x", ModelSpec("logreg", 4, 2), TrainConfig(), strategy="fedmagic")


matrices = st.integers(5, 9).flatmap(
    lambda n: arrays(np.float32, (n, 3), elements=st.floats(-10, 10, width=32))
)


@settings(max_examples=40, deadline=None)
@given(rows=matrices, data=st.data())
@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_every_strategy_is_permutation_invariant(
    name: str, rows: np.ndarray, data: st.DataObject
) -> None:
    assume(name != "bulyan" or len(rows) >= 7)  # Bulyan needs 4f + 3 updates
    order = data.draw(st.permutations(range(len(rows))))
    updates = [ClientUpdate({"w": r}, 1) for r in rows]
    zero = {"w": np.zeros(3, np.float32)}
    a = make_strategy(name).aggregate(ServerState(), zero, updates)[0]["w"]
    b = make_strategy(name).aggregate(ServerState(), zero, [updates[i] for i in order])[0]["w"]
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


@settings(max_examples=30, deadline=None)
@given(row=arrays(np.float32, 3, elements=st.floats(-10, 10, width=32)), n=st.integers(7, 10))
@pytest.mark.parametrize("name", ["fedavg", "fedprox", "fedmedian", "trimmedmean", "krum",
                                  "multikrum", "bulyan"])  # fmt: skip
def test_identical_updates_give_that_update(name: str, row: np.ndarray, n: int) -> None:
    updates = [ClientUpdate({"w": row.copy()}, 3) for _ in range(n)]
    out = make_strategy(name).combine(updates)["w"]
    np.testing.assert_allclose(out, row, rtol=1e-5, atol=1e-5)


def test_a_misspelt_option_is_named_not_ignored() -> None:
    with pytest.raises(AggregationError, match="Unknown strategy options: proximal_m"):
        make_strategy("fedprox", proximal_m=0.1)


@settings(max_examples=20, deadline=None)
@given(bad=st.sampled_from([np.nan, np.inf, -np.inf]), at=st.integers(0, 6))
@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_every_strategy_refuses_updates_that_are_not_finite(name: str, bad: float, at: int) -> None:
    rows = [[float(i), float(-i)] for i in range(7)]
    rows[at][at % 2] = bad
    with pytest.raises(AggregationError, match="not finite"):
        make_strategy(name).combine(_updates(rows))


def test_a_combined_update_too_large_for_float32_is_refused() -> None:
    # ten updates at float32's largest: their weights, 1/10 each in float32, sum past 1
    top = float(np.finfo(np.float32).max)
    with pytest.raises(AggregationError, match="not finite: their values are too large"):
        make_strategy("fedavg").combine(_updates([[top, top]] * 10))
