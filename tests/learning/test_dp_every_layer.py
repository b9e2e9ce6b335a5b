"""Record-level DP-SGD (Opacus) trains every layer kind of the vocabulary: each layer's
per-example gradients are computed and clipped (no layer is left out of the privacy
accounting or silently frozen), and a recurrent model uses dain's own GRU/LSTM, built from
linear layers that Opacus knows how to clip."""

from __future__ import annotations

import numpy as np
import pytest

from dain.learning import (
    ModelSpec,
    PrivacyLevel,
    PrivacySpec,
    TrainConfig,
    init_params,
    train_local_dp,
)

HEAD = [{"type": "flatten"}, {"type": "linear", "out_features": 2}]
MODELS = {
    "linear": ((6,), [{"type": "linear", "out_features": 4}, {"type": "gelu"}]),
    "conv1d": ((2, 8), [{"type": "conv1d", "out_channels": 3, "kernel_size": 3},
                        {"type": "max_pool1d", "kernel_size": 2}]),
    "conv2d": ((1, 6, 6), [{"type": "conv2d", "out_channels": 4, "kernel_size": 3,
                            "padding": 1}, {"type": "avg_pool2d", "kernel_size": 2}]),
    "group_norm": ((4, 6), [{"type": "group_norm", "num_groups": 2}, {"type": "tanh"}]),
    "layer_norm": ((3, 5), [{"type": "layer_norm"}, {"type": "dropout", "p": 0.1}]),
    "embedding": ((5,), [{"type": "embedding", "num_embeddings": 9, "embedding_dim": 3}]),
    "gru": ((5, 3), [{"type": "gru", "hidden_size": 4}]),
    "lstm": ((5, 3), [{"type": "lstm", "hidden_size": 4, "output": "sequence"}]),
    "residual": ((2, 8), [{"type": "residual", "layers": [
        {"type": "conv1d", "out_channels": 2, "kernel_size": 3, "padding": "same"},
        {"type": "relu"}]}, {"type": "adaptive_avg_pool1d", "output_size": 2}]),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_dp_sgd_trains_every_tensor_of_every_layer_kind(kind: str) -> None:
    shape, layers = MODELS[kind]
    spec = ModelSpec.network(shape, [*layers, *HEAD], 2)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 9, (64, *shape)).astype(np.float32) if kind == "embedding" else \
        rng.normal(size=(64, *shape)).astype(np.float32)
    y = (x.reshape(64, -1).sum(axis=1) > 0).astype(np.int64)
    before = init_params(spec, 1)
    privacy = PrivacySpec(PrivacyLevel.RECORD, 0.5, 1.0, 1e-5, sample_rate=0.5, steps=3)
    after = train_local_dp(spec, before, x, y, TrainConfig(0.5, 1, 16), privacy).params
    assert after.keys() == before.keys()
    for name in before:
        assert np.isfinite(after[name]).all(), name
        assert not np.array_equal(after[name], before[name]), f"{name} did not train"


def test_clipping_bounds_what_one_record_can_move_the_model() -> None:
    """With (next to) no noise, one step on one sampled record moves the weights by at most
    lr x clip / expected batch: the record's gradient was clipped to the bound."""
    spec = ModelSpec.network((1, 6, 6), [{"type": "conv2d", "out_channels": 2,
                                          "kernel_size": 3}, *HEAD], 2)  # fmt: skip
    x = np.full((1, 1, 6, 6), 100.0, np.float32)  # a huge gradient before clipping
    y = np.array([1])
    before = init_params(spec, 0)
    clip, lr = 0.1, 1.0
    privacy = PrivacySpec(PrivacyLevel.RECORD, 1e-6, clip, 1e-5, sample_rate=0.999, steps=1)
    after = train_local_dp(spec, before, x, y, TrainConfig(lr, 1, 1), privacy).params
    moved = np.sqrt(sum(float(((after[n] - before[n]) ** 2).sum()) for n in before))
    assert 0 < moved <= lr * clip + 1e-5
