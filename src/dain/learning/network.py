"""PyTorch modules from checked layer specs (`dain.learning.architecture`).

Only the vocabulary's own modules are ever built, so a spec from the network runs no code
of its sender's. Parameter names follow the layer's place in the spec ("0.weight",
"3.body.0.weight", "5.layers.0.ih.weight"): they are the tensor names that travel."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from dain.learning.architecture import Layer, Shape, layer_shape, plan


class Residual(nn.Module):
    """x + body(x)."""

    def __init__(self, body: nn.Sequential) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SwapLastAxes(nn.Module):
    """(time, features) <-> (channels, length): recurrent layers read the one, 1-D
    convolutions the other."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(-1, -2)


class Tokens(nn.Module):
    """An embedding of token numbers carried as floats (every input tensor is float32).
    The table is a plain `nn.Embedding` child, which Opacus knows how to clip per record."""

    def __init__(self, num_embeddings: int, embedding_dim: int) -> None:
        super().__init__()
        self.table = nn.Embedding(num_embeddings, embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.table(x.long())


def build_network(input_shape: Shape, layers: Sequence[Layer]) -> nn.Sequential:
    """The module a checked spec describes (checked again here: it is cheap)."""
    plan(input_shape, layers)
    return _sequence(tuple(input_shape), layers)


def _sequence(shape: Shape, layers: Sequence[Layer]) -> nn.Sequential:
    modules = []
    for lay in layers:
        modules.append(_module(lay, shape))
        if lay.type != "residual":
            shape, _ = layer_shape(lay, shape, lay.type)
    return nn.Sequential(*modules)


def _module(lay: Layer, shape: Shape) -> nn.Module:
    o = dict(lay.options)
    kind = lay.type
    if kind == "linear":
        return nn.Linear(shape[-1], o["out_features"], bias=o["bias"])
    if kind in ("conv1d", "conv2d"):
        conv = nn.Conv1d if kind == "conv1d" else nn.Conv2d
        k = o["kernel_size"]
        padding = (k - 1) // 2 if o["padding"] == "same" else o["padding"]
        return conv(shape[0], o["out_channels"], k, stride=o["stride"], padding=padding,
                    bias=o["bias"])  # fmt: skip
    if kind in ("max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d"):
        pool = {"max_pool1d": nn.MaxPool1d, "max_pool2d": nn.MaxPool2d,
                "avg_pool1d": nn.AvgPool1d, "avg_pool2d": nn.AvgPool2d}[kind]  # fmt: skip
        return pool(o["kernel_size"], stride=o["stride"] or o["kernel_size"])
    if kind == "adaptive_avg_pool1d":
        return nn.AdaptiveAvgPool1d(o["output_size"])
    if kind == "adaptive_avg_pool2d":
        return nn.AdaptiveAvgPool2d(o["output_size"])
    if kind == "flatten":
        return nn.Flatten(start_dim=1)
    if kind == "relu":
        return nn.ReLU()
    if kind == "gelu":
        return nn.GELU()
    if kind == "tanh":
        return nn.Tanh()
    if kind == "sigmoid":
        return nn.Sigmoid()
    if kind == "dropout":
        return nn.Dropout(o["p"])
    if kind == "layer_norm":
        return nn.LayerNorm(shape[-1])
    if kind == "group_norm":
        return nn.GroupNorm(o["num_groups"], shape[0])
    if kind == "embedding":
        return Tokens(o["num_embeddings"], o["embedding_dim"])
    if kind in ("gru", "lstm"):
        from dain.learning.recurrent import GRU, LSTM

        cell = GRU if kind == "gru" else LSTM
        return cell(shape[-1], o["hidden_size"], num_layers=o["num_layers"], output=o["output"])
    if kind == "transpose":
        return SwapLastAxes()
    if kind == "residual":
        return Residual(_sequence(shape, lay.body))
    raise AssertionError(f"no module for checked layer type {kind}")
