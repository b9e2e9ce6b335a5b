"""Models and local training."""

from __future__ import annotations

import numpy as np
import pytest

from dain.data import load_bundled
from dain.learning import (
    ModelSpec,
    ModelSpecError,
    TrainConfig,
    accuracy,
    build_model,
    feature_statistics,
    init_params,
    param_shapes,
    train_local,
)


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
