from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dain.data import load_bundled
from dain.learning import (
    AggregationError,
    ClientUpdate,
    FedAvg,
    ModelSpec,
    ModelSpecError,
    TrainConfig,
    accuracy,
    build_model,
    feature_statistics,
    init_params,
    param_shapes,
    train_local,
    weighted_mean,
)


def test_weighted_mean_by_hand() -> None:
    a = {"w": np.array([1.0, 2.0], np.float32)}
    b = {"w": np.array([3.0, 6.0], np.float32)}
    np.testing.assert_allclose(weighted_mean([a, b], [1, 3])["w"], [2.5, 5.0])


def test_fedavg_weights_by_examples_by_hand() -> None:
    global_params = {"w": np.zeros(2, np.float32)}
    updates = [
        ClientUpdate({"w": np.array([1.0, 0.0], np.float32)}, 30),
        ClientUpdate({"w": np.array([0.0, 1.0], np.float32)}, 10),
    ]
    np.testing.assert_allclose(FedAvg().aggregate(global_params, updates)["w"], [0.75, 0.25])


vectors = arrays(np.float32, 5, elements=st.floats(-100, 100, width=32))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(vectors, st.integers(1, 100)), min_size=1, max_size=6), st.randoms())
def test_fedavg_is_permutation_invariant(clients: list, rnd) -> None:  # type: ignore[no-untyped-def]
    updates = [ClientUpdate({"w": v}, n) for v, n in clients]
    shuffled = list(updates)
    rnd.shuffle(shuffled)
    zero = {"w": np.zeros(5, np.float32)}
    np.testing.assert_allclose(
        FedAvg().aggregate(zero, updates)["w"],
        FedAvg().aggregate(zero, shuffled)["w"],
        rtol=1e-5,
        atol=1e-3,
    )


@settings(max_examples=50, deadline=None)
@given(vectors, st.lists(st.integers(1, 100), min_size=1, max_size=6))
def test_fedavg_of_identical_updates_is_that_update(v: np.ndarray, counts: list[int]) -> None:
    zero = {"w": np.zeros(5, np.float32)}
    result = FedAvg().aggregate(zero, [ClientUpdate({"w": v}, n) for n in counts])
    np.testing.assert_allclose(result["w"], v, rtol=1e-5, atol=1e-4)


def test_aggregation_refusals() -> None:
    with pytest.raises(AggregationError, match="no updates"):
        weighted_mean([], [])
    with pytest.raises(AggregationError, match="different shapes"):
        weighted_mean([{"w": np.zeros(2)}, {"w": np.zeros(3)}], [1, 1])
    with pytest.raises(AggregationError, match="Weights"):
        weighted_mean([{"w": np.zeros(2)}], [0])


def test_model_shapes_match_the_module() -> None:
    for spec in (ModelSpec("logreg", 4, 3), ModelSpec("mlp", 4, 3, (8, 5))):
        module_shapes = {k: tuple(v.shape) for k, v in build_model(spec).state_dict().items()}
        assert module_shapes == param_shapes(spec)
        assert {k: v.shape for k, v in init_params(spec, 0).items()} == param_shapes(spec)
    with pytest.raises(ModelSpecError):
        ModelSpec("transformer", 4, 3)
    with pytest.raises(ModelSpecError):
        ModelSpec("mlp", 4, 3)
    assert ModelSpec.from_dict(ModelSpec("mlp", 4, 3, (8,)).to_dict()) == ModelSpec(
        "mlp", 4, 3, (8,)
    )


def test_local_training_is_reproducible_and_learns() -> None:
    data = load_bundled("breast_cancer")
    mean, scale = feature_statistics(data.x)
    spec = ModelSpec("logreg", 30, 2, (), mean, scale)
    start = init_params(spec, 0)

    first = train_local(spec, start, data.x, data.y, TrainConfig(0.1, 2, 16), seed=3)
    again = train_local(spec, start, data.x, data.y, TrainConfig(0.1, 2, 16), seed=3)

    for name in first.params:
        np.testing.assert_array_equal(first.params[name], again.params[name])
    assert first.num_examples == 569
    assert (
        accuracy(spec, first.params, data.x, data.y) > 0.95 > accuracy(spec, start, data.x, data.y)
    )
