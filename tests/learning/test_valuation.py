"""Valuing a round's updates: the batched sub-models against real PyTorch modules, cases
checked by hand, the Shapley axioms on the federated game, and the valuer's own updates
kept out."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dain.learning import (
    AggregationError,
    ClientUpdate,
    LearningError,
    ModelSpec,
    Params,
    ValuationConfig,
    accuracy,
    build_model,
    init_params,
    value_updates,
)
from dain.learning.models import load_params

MLP = ModelSpec("mlp", 6, 3, (5, 4))
LOGREG = ModelSpec("logreg", 6, 3)
REGRESSION = ModelSpec("mlp", 6, 1, (4,))


def make_updates(spec: ModelSpec, counts: list[int], seed: int = 0) -> list[ClientUpdate]:
    rng = np.random.default_rng(seed)
    params = init_params(spec, 0)
    return [
        ClientUpdate({k: rng.normal(0, 0.3, v.shape).astype(np.float32) for k, v in params.items()},
                     n)
        for n in counts
    ]  # fmt: skip


def split(spec: ModelSpec, rows: int = 30, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, spec.num_features)).astype(np.float32)
    if spec.is_regression:
        return x, rng.normal(size=rows).astype(np.float32)
    return x, rng.integers(0, spec.num_classes, rows)


def mean_step(global_params: Params, updates: list[ClientUpdate], lr: float = 1.0) -> Params:
    total = sum(u.num_examples for u in updates)
    return {k: global_params[k] + lr * sum(u.num_examples * u.delta[k] for u in updates) / total
            for k in global_params}  # fmt: skip


def minus_loss(spec: ModelSpec, params: Params, x: np.ndarray, y: np.ndarray) -> float:
    """The utility computed the plain way: one PyTorch module, its loss."""
    model = build_model(spec)
    load_params(model, params)
    with torch.no_grad():
        out = model(torch.from_numpy(spec.standardize(x)))
        if spec.is_regression:
            return -float(((out[:, 0] - torch.from_numpy(y)) ** 2).mean())
        return -float(torch.nn.functional.cross_entropy(out, torch.from_numpy(y)))


@pytest.mark.parametrize("spec", [MLP, LOGREG, REGRESSION], ids=["mlp", "logreg", "regression"])
def test_every_coalition_is_worth_what_its_model_scores(spec: ModelSpec) -> None:
    params, updates, (x, y) = init_params(spec, 0), make_updates(spec, [3, 5, 8]), split(spec)
    config = ValuationConfig(method="exact", server_lr=0.7)

    valuation = value_updates(spec, params, updates, x, y, rng=np.random.default_rng(0),
                              config=config)  # fmt: skip

    before = minus_loss(spec, params, x, y)
    after = minus_loss(spec, mean_step(params, updates, 0.7), x, y)
    assert valuation.utility_before == pytest.approx(before, rel=1e-5)
    assert valuation.utility_after == pytest.approx(after, rel=1e-5)
    # efficiency of the exact values ties every other coalition in
    assert sum(valuation.values.values()) == pytest.approx(after - before, rel=1e-4, abs=1e-6)


def test_accuracy_utility_is_the_models_accuracy() -> None:
    params, updates, (x, y) = init_params(MLP, 0), make_updates(MLP, [4, 4]), split(MLP, 40)
    config = ValuationConfig(method="loo", utility="accuracy")

    valuation = value_updates(MLP, params, updates, x, y, rng=np.random.default_rng(0),
                              config=config)  # fmt: skip

    assert valuation.utility_before == pytest.approx(accuracy(MLP, params, x, y))
    assert valuation.utility_after == pytest.approx(accuracy(MLP, mean_step(params, updates), x, y))


def test_two_participants_one_with_no_examples_by_hand() -> None:
    # an update that weighs nothing changes no sub-model: it gets 0, the other everything
    params, (x, y) = init_params(MLP, 0), split(MLP)
    useful, useless = make_updates(MLP, [10, 0])

    valuation = value_updates(MLP, params, [useful, useless], x, y, rng=np.random.default_rng(0))

    gain = minus_loss(MLP, mean_step(params, [useful]), x, y) - minus_loss(MLP, params, x, y)
    assert valuation.method == "exact"
    assert valuation.values[1] == 0.0
    assert valuation.values[0] == pytest.approx(gain, rel=1e-4)


def test_a_free_rider_dilutes_the_mean_and_is_valued_for_it_by_hand() -> None:
    # a zero update with as many examples halves the useful one's step in the mean:
    # phi = ((v(B) - v(0)) + (v(AB) - v(A))) / 2 = (v(w + d/2) - v(w + d)) / 2
    params, (x, y) = init_params(MLP, 0), split(MLP)
    (useful,) = make_updates(MLP, [10])
    free_rider = ClientUpdate({k: np.zeros_like(v) for k, v in useful.delta.items()}, 10)

    valuation = value_updates(MLP, params, [useful, free_rider], x, y,
                              rng=np.random.default_rng(0))  # fmt: skip

    half = minus_loss(MLP, mean_step(params, [useful, free_rider]), x, y)
    whole = minus_loss(MLP, mean_step(params, [useful]), x, y)
    assert valuation.values[1] == pytest.approx((half - whole) / 2, rel=1e-4, abs=1e-6)


updates_strategy = st.lists(st.integers(1, 50), min_size=2, max_size=5)


@given(counts=updates_strategy, seed=st.integers(0, 2**16))
@settings(deadline=None, max_examples=30)
def test_identical_updates_get_equal_values(counts: list[int], seed: int) -> None:
    # exactly only for exact Shapley: GTG samples permutations (tests/learning/test_shapley.py
    # checks how close it comes)
    updates = make_updates(MLP, counts, seed)
    twin = ClientUpdate(updates[0].delta, updates[0].num_examples)
    x, y = split(MLP, seed=seed)

    values = value_updates(MLP, init_params(MLP, 0), [*updates, twin], x, y,
                           rng=np.random.default_rng(seed),
                           config=ValuationConfig(method="exact")).values  # fmt: skip

    # utilities are float32 losses near 1: about 1e-7 apart at best
    assert values[0] == pytest.approx(values[len(updates)], rel=1e-4, abs=1e-6)


@given(counts=updates_strategy, seed=st.integers(0, 2**16),
       method=st.sampled_from(["exact", "gtg", "loo"]))  # fmt: skip
@settings(deadline=None, max_examples=30)
def test_an_update_that_changes_no_sub_model_gets_zero(
    counts: list[int], seed: int, method: str
) -> None:
    updates = [*make_updates(MLP, counts, seed), make_updates(MLP, [0], seed + 1)[0]]
    x, y = split(MLP, seed=seed)

    values = value_updates(MLP, init_params(MLP, 0), updates, x, y,
                           rng=np.random.default_rng(seed),
                           config=ValuationConfig(method=method)).values  # fmt: skip

    assert values[len(counts)] == 0.0


def test_the_valuers_own_updates_take_no_part() -> None:
    params, updates, (x, y) = init_params(MLP, 0), make_updates(MLP, [3, 9, 4, 6]), split(MLP)

    with_own = value_updates(MLP, params, updates, x, y, rng=np.random.default_rng(0),
                             exclude=[1, 3])  # fmt: skip
    without = value_updates(MLP, params, [updates[0], updates[2]], x, y,
                            rng=np.random.default_rng(0))  # fmt: skip

    assert sorted(with_own.values) == [0, 2]
    assert with_own.values[0] == pytest.approx(without.values[0], rel=1e-6)
    assert with_own.values[2] == pytest.approx(without.values[1], rel=1e-6)
    nobody = value_updates(MLP, params, updates[:1], x, y, rng=np.random.default_rng(0),
                           exclude=[0])  # fmt: skip
    assert nobody.values == {} and nobody.utility_before == nobody.utility_after


def test_auto_is_exact_for_few_and_gtg_for_many() -> None:
    params, (x, y) = init_params(LOGREG, 0), split(LOGREG)
    config = ValuationConfig(exact_up_to=3)
    rng = np.random.default_rng(0)

    few = value_updates(LOGREG, params, make_updates(LOGREG, [2] * 3), x, y, rng=rng,
                        config=config)  # fmt: skip
    many = value_updates(LOGREG, params, make_updates(LOGREG, [2] * 5), x, y, rng=rng,
                         config=config)  # fmt: skip

    assert (few.method, few.evaluations, few.permutations) == ("exact", 8, 0)
    assert many.method == "gtg" and many.permutations >= 30


def test_refuses_what_it_cannot_value() -> None:
    params, updates, (x, y) = init_params(MLP, 0), make_updates(MLP, [1, 2]), split(MLP)
    rng = np.random.default_rng(0)
    with pytest.raises(LearningError, match="exclude"):
        value_updates(MLP, params, updates, x, y, rng=rng, exclude=[2])
    with pytest.raises(LearningError, match="method"):
        ValuationConfig(method="banzhaf")
    with pytest.raises(LearningError):
        value_updates(MLP, params, make_updates(LOGREG, [1, 2]), x, y, rng=rng)
    with pytest.raises(LearningError):
        value_updates(MLP, params, updates, x[:3], y, rng=rng)
    poisoned = [ClientUpdate({k: np.full_like(v, np.nan) for k, v in updates[0].delta.items()},
                             1)]  # fmt: skip
    with pytest.raises(AggregationError, match="finite"):
        value_updates(MLP, params, poisoned, x, y, rng=rng)
