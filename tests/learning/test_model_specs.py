"""Declarative model specs: every layer of the vocabulary builds with the shape and
parameter count worked out by hand, and every malformed spec is refused naming the layer
and the problem, before anything is built."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dain.learning import (
    LAYER_TYPES,
    ModelSpec,
    ModelSpecError,
    TrainConfig,
    build_model,
    init_params,
    param_shapes,
    plan,
    predict,
    train_local,
)
from dain.learning.architecture import MAX_PARAMETERS, parse_layers


def built(input_shape: tuple[int, ...], layers: list[dict], outputs: int) -> tuple[ModelSpec,
                                                                                  torch.nn.Module]:
    spec = ModelSpec.network(input_shape, layers, outputs)
    return spec, build_model(spec)


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# input shape, layers, hand-worked output shape and parameter count
CASES = [
    ((6,), [{"type": "linear", "out_features": 4}], (4,), 6 * 4 + 4),
    ((6,), [{"type": "linear", "out_features": 4, "bias": False}], (4,), 24),
    ((2, 10), [{"type": "conv1d", "out_channels": 3, "kernel_size": 3}], (3, 8), 3 * (2 * 3 + 1)),
    ((2, 10), [{"type": "conv1d", "out_channels": 3, "kernel_size": 3, "stride": 2,
                "padding": 1}], (3, 5), 21),
    ((1, 8, 8), [{"type": "conv2d", "out_channels": 4, "kernel_size": 3, "padding": "same"}],
     (4, 8, 8), 4 * (9 + 1)),
    ((3, 8, 8), [{"type": "conv2d", "out_channels": 2, "kernel_size": 5}], (2, 4, 4),
     2 * (3 * 25 + 1)),
    ((2, 9), [{"type": "max_pool1d", "kernel_size": 2}], (2, 4), 0),
    ((2, 9), [{"type": "avg_pool1d", "kernel_size": 3, "stride": 1}], (2, 7), 0),
    ((2, 8, 6), [{"type": "max_pool2d", "kernel_size": 2}], (2, 4, 3), 0),
    ((2, 8, 6), [{"type": "avg_pool2d", "kernel_size": 2}], (2, 4, 3), 0),
    ((4, 7), [{"type": "adaptive_avg_pool1d"}], (4, 1), 0),
    ((4, 7, 5), [{"type": "adaptive_avg_pool2d", "output_size": 2}], (4, 2, 2), 0),
    ((2, 3, 4), [{"type": "flatten"}], (24,), 0),
    ((5,), [{"type": "relu"}], (5,), 0),
    ((5,), [{"type": "gelu"}], (5,), 0),
    ((5,), [{"type": "tanh"}], (5,), 0),
    ((5,), [{"type": "sigmoid"}], (5,), 0),
    ((5,), [{"type": "dropout", "p": 0.2}], (5,), 0),
    ((3, 5), [{"type": "layer_norm"}], (3, 5), 10),
    ((4, 6), [{"type": "group_norm", "num_groups": 2}], (4, 6), 8),
    ((7,), [{"type": "embedding", "num_embeddings": 20, "embedding_dim": 3}], (7, 3), 60),
    ((6, 4), [{"type": "gru", "hidden_size": 5}], (5,), 3 * 5 * (4 + 5 + 2)),
    ((6, 4), [{"type": "gru", "hidden_size": 5, "num_layers": 2, "output": "sequence"}],
     (6, 5), 3 * 5 * (4 + 5 + 2) + 3 * 5 * (5 + 5 + 2)),
    ((6, 4), [{"type": "lstm", "hidden_size": 5}], (5,), 4 * 5 * (4 + 5 + 2)),
    ((6, 4), [{"type": "transpose"}], (4, 6), 0),
    ((4, 6), [{"type": "residual", "layers": [
        {"type": "conv1d", "out_channels": 4, "kernel_size": 3, "padding": 1},
        {"type": "relu"}]}], (4, 6), 4 * (4 * 3 + 1)),
]


@pytest.mark.parametrize(("shape", "layers", "out", "params"), CASES)
def test_each_layer_builds_with_the_hand_worked_shape_and_parameter_count(
    shape, layers, out, params
) -> None:
    found = plan(shape, parse_layers(layers))
    assert found.output == out
    assert found.parameters == params
    torch.manual_seed(0)
    module = build_model(ModelSpec.network(shape, [*layers, {"type": "flatten"},
                                                  {"type": "linear", "out_features": 2}], 2))
    head = int(np.prod(out)) * 2 + 2
    assert count(module) == params + head
    example = torch.rand(3, *shape) * (19 if layers[0]["type"] == "embedding" else 1)
    assert module[: len(layers)](example).shape == (3, *out)
    assert module(example).shape == (3, 2)


def test_every_layer_type_is_covered_by_a_case() -> None:
    assert {layers[0]["type"] for _, layers, _, _ in CASES} == set(LAYER_TYPES)


def test_the_presets_are_layer_lists_with_unchanged_names_and_ids() -> None:
    mlp = ModelSpec("mlp", 4, 3, (8, 5))
    assert [lay.type for lay in mlp.architecture] == ["linear", "relu", "linear", "relu",
                                                      "linear"]  # fmt: skip
    assert param_shapes(mlp) == {"0.weight": (8, 4), "0.bias": (8,), "2.weight": (5, 8),
                                 "2.bias": (5,), "4.weight": (3, 5), "4.bias": (3,)}  # fmt: skip
    assert param_shapes(ModelSpec("logreg", 30, 2)) == {"0.weight": (2, 30), "0.bias": (2,)}
    # the same short form as before: job specs that name these models keep their content ids
    assert mlp.to_dict() == {"kind": "mlp", "num_features": 4, "num_classes": 3,
                             "hidden": [8, 5], "feature_mean": [], "feature_scale": []}  # fmt: skip
    same = ModelSpec.network((4,), [{"type": "linear", "out_features": 8}, {"type": "relu"},
                                    {"type": "linear", "out_features": 5}, {"type": "relu"},
                                    {"type": "linear", "out_features": 3}], 3)  # fmt: skip
    assert param_shapes(same) == param_shapes(mlp)
    assert init_params(same, 7).keys() == init_params(mlp, 7).keys()
    assert all(np.array_equal(init_params(same, 7)[n], init_params(mlp, 7)[n])
               for n in param_shapes(mlp))  # fmt: skip


def test_a_layer_spec_round_trips_through_json() -> None:
    spec = ModelSpec.network(
        (1, 8, 8),
        [{"type": "conv2d", "out_channels": 8, "kernel_size": 3, "padding": "same"},
         {"type": "relu"}, {"type": "max_pool2d", "kernel_size": 2},
         {"type": "residual", "layers": [
             {"type": "conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
             {"type": "group_norm", "num_groups": 4}, {"type": "gelu"}]},
         {"type": "flatten"}, {"type": "dropout", "p": 0.1},
         {"type": "linear", "out_features": 10}],
        10, (0.3,), (0.2,),
    )  # fmt: skip
    again = ModelSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    assert again.num_features == 64
    assert list(param_shapes(spec)) == ["0.weight", "0.bias", "3.body.0.weight",
                                        "3.body.0.bias", "3.body.1.weight", "3.body.1.bias",
                                        "6.weight", "6.bias"]  # fmt: skip


REFUSALS = [
    ([{"type": "linear"}], "layer 1 (linear) needs 'out_features'"),
    ([{"type": "transformer"}], "unknown type 'transformer'"),
    ([{"out_features": 3}], "needs a 'type'"),
    ([{"type": "linear", "out_features": 3, "activation": "relu"}], "no option 'activation'"),
    ([{"type": "linear", "out_features": "3"}], "'out_features' = '3' is not a whole number"),
    ([{"type": "linear", "out_features": True}], "is not a whole number"),
    ([{"type": "linear", "out_features": 0}], "'out_features' must be 1 to"),
    ([{"type": "flatten"}, {"type": "conv2d", "out_channels": 2, "kernel_size": 3}],
     "layer 2 (conv2d) takes (channels, height, width), but gets an input of shape [64]"),
    ([{"type": "conv2d", "out_channels": 2, "kernel_size": 9}],
     "layer 1 (conv2d): a kernel of 9 does not fit an input of size 8"),
    ([{"type": "conv2d", "out_channels": 2, "kernel_size": 2, "padding": "same"}],
     "padding 'same' needs stride 1 and an odd kernel_size"),
    ([{"type": "conv2d", "out_channels": 2, "kernel_size": 3, "padding": "valid"}],
     "'padding' must be 0 to"),
    ([{"type": "conv2d", "out_channels": 2, "kernel_size": 3, "stride": 0}],
     "'stride' must be at least 1"),
    ([{"type": "max_pool2d", "kernel_size": 2}] * 4, "layer 4 (max_pool2d): a kernel of 2"),
    ([{"type": "group_norm", "num_groups": 3}], "splits 1 channels into 3 groups"),
    ([{"type": "dropout", "p": 1.0}], "'p' must be at least 0 and below 1"),
    ([{"type": "gru", "hidden_size": 4}], "layer 1 (gru) takes a sequence (time, features)"),
    ([{"type": "embedding", "num_embeddings": 5, "embedding_dim": 2}],
     "takes a sequence of token numbers"),
    ([{"type": "residual", "layers": [{"type": "conv2d", "out_channels": 4,
                                       "kernel_size": 3}]}],
     "turns [1, 8, 8] into [4, 6, 6]: a residual block must give back the shape"),
    ([{"type": "residual", "layers": []}], "has no layers"),
    ([{"type": "residual", "layers": [{"type": "relu", "inplace": True}]}],
     "layer 1 (residual), layer 1 (relu) has no option 'inplace'"),
    ([{"type": "linear", "out_features": 60_000}, {"type": "linear", "out_features": 60_000}],
     f"at most {MAX_PARAMETERS:,} are allowed"),
    ([{"type": "relu"}] * 70, "at most 64 are allowed"),
    ([{"type": "flatten"}, {"type": "linear", "out_features": 3}],
     "the model's last layer gives [3] per example, but the job needs 10 outputs"),
    ([], "must be a non-empty list"),
]


@pytest.mark.parametrize(("layers", "message"), REFUSALS)
def test_a_malformed_spec_is_refused_naming_the_layer_and_problem(layers, message) -> None:
    with pytest.raises(ModelSpecError) as caught:
        ModelSpec.network((1, 8, 8), layers, 10)
    assert message.lower() in str(caught.value).lower()


def test_nesting_is_bounded_and_input_shapes_checked() -> None:
    deep: dict = {"type": "relu"}
    for _ in range(5):
        deep = {"type": "residual", "layers": [deep]}
    with pytest.raises(ModelSpecError, match="deeper than"):
        ModelSpec.network((4,), [deep, {"type": "linear", "out_features": 2}], 2)
    for shape in [(), (0,), (1, 2, 3, 4), (-3,)]:
        with pytest.raises(ModelSpecError, match="input shape"):
            ModelSpec.network(shape, [{"type": "linear", "out_features": 2}], 2)
    with pytest.raises(ModelSpecError, match="Malformed"):
        ModelSpec.from_dict({"kind": "layers", "layers": []})
    with pytest.raises(ModelSpecError, match="takes no layer list"):
        ModelSpec("mlp", 4, 2, (3,), input_shape=(4,))
    with pytest.raises(ModelSpecError, match="one per channel"):
        ModelSpec.network((3, 4, 4), [{"type": "flatten"},
                                      {"type": "linear", "out_features": 2}], 2, (0.0,), (1.0,))


def test_rows_of_the_wrong_shape_are_refused_before_training() -> None:
    spec = ModelSpec.network((1, 8, 8), [{"type": "flatten"},
                                         {"type": "linear", "out_features": 2}], 2)  # fmt: skip
    with pytest.raises(ModelSpecError, match=r"shape \[64\], but the model reads \[1, 8, 8\]"):
        train_local(spec, init_params(spec, 0), np.zeros((4, 64), np.float32),
                    np.zeros(4, np.int64), TrainConfig(), seed=0)  # fmt: skip


def test_a_small_cnn_learns_digits() -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16).astype(np.float32)[:, None]
    y = digits.target
    spec = ModelSpec.network(
        (1, 8, 8),
        [{"type": "conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1}, {"type": "relu"},
         {"type": "max_pool2d", "kernel_size": 2}, {"type": "flatten"},
         {"type": "linear", "out_features": 10}],
        10,
    )  # fmt: skip
    trained = train_local(spec, init_params(spec, 0), x[:1200], y[:1200],
                          TrainConfig(0.05, 5, 32, momentum=0.9), seed=0).params  # fmt: skip
    assert (predict(spec, trained, x[1200:]) == y[1200:]).mean() > 0.88


def test_class_weights_weigh_rows_by_class() -> None:
    spec = ModelSpec("logreg", 2, 2)
    y = np.array([0] * 9 + [1])
    balanced = TrainConfig(balance_classes=True).weights_for(spec, y)
    assert balanced is not None
    assert balanced.tolist() == pytest.approx([10 / 18, 10 / 2])
    fixed = TrainConfig(class_weights=(1.0, 50.0)).weights_for(spec, y)
    assert fixed is not None and fixed.tolist() == [1.0, 50.0]
    assert TrainConfig().weights_for(spec, y) is None
    assert TrainConfig().to_dict() == {"learning_rate": 0.1, "epochs": 1, "batch_size": 16,
                                       "momentum": 0.0}  # fmt: skip
    again = TrainConfig.from_dict(TrainConfig(class_weights=(1.0, 3.0)).to_dict())
    assert again.class_weights == (1.0, 3.0)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 3), st.integers(4, 12), st.integers(1, 4), st.integers(1, 3),
    st.integers(0, 2), st.sampled_from(["max_pool2d", "avg_pool2d"]),
)
def test_planned_shapes_match_what_torch_computes(channels, size, out, kernel, padding, pool):
    layers = [{"type": "conv2d", "out_channels": out, "kernel_size": kernel,
               "padding": padding}, {"type": pool, "kernel_size": 2}]  # fmt: skip
    try:
        found = plan((channels, size, size), parse_layers(layers))
    except ModelSpecError:
        assert (size + 2 * padding - kernel + 1) < 2  # refused only when it cannot fit
        return
    module = build_model(ModelSpec.network((channels, size, size),
                                           [*layers, {"type": "flatten"},
                                            {"type": "linear", "out_features": 2}], 2))  # fmt: skip
    assert tuple(module[:2](torch.zeros(1, channels, size, size)).shape[1:]) == found.output
    assert count(module[:2]) == found.parameters
