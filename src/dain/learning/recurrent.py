"""GRU and LSTM layers built from `nn.Linear` and elementwise ops, for model specs.

PyTorch's `nn.GRU` / `nn.LSTM` run fused kernels that neither Opacus' per-sample
gradient hooks nor `torch.func.vmap` over stacked client parameters can see into. These
layers compute the same function (equal to `nn.GRU` / `nn.LSTM` with `batch_first=True`
given the same weights) from two `nn.Linear` per layer:

- `ih` maps the layer's input to its gates, applied once to the whole (batch, time,
  features) sequence;
- `hh` maps the previous hidden state to its gates, applied once per time step.

Opacus (1.x, hooks mode) accumulates a reused module's per-sample gradients over its
calls in one backward pass, so a plain `nn.Linear` called at every step gets per-sample
gradients summed over time, as `opacus.layers.DPGRU`'s `RNNLinear` does. Parameter names
(`layers.0.ih.weight`, `layers.0.hh.bias`, ...) are stable: they name the tensors that
travel between nodes.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn
from torch.nn.utils import skip_init

from dain.learning.errors import ModelSpecError

Output = Literal["last", "sequence"]
OUTPUTS: tuple[Output, ...] = ("last", "sequence")


class _Layer(nn.Module):
    """One recurrent layer's two projections, `chunks` gates wide."""

    def __init__(self, input_size: int, hidden_size: int, chunks: int) -> None:
        super().__init__()
        # skip_init draws nothing from the generator: the owner then draws every weight in
        # nn.GRU's order, so a seed gives the same weights as torch's own layer
        self.ih = skip_init(nn.Linear, input_size, chunks * hidden_size)
        self.hh = skip_init(nn.Linear, hidden_size, chunks * hidden_size)


class _Recurrent(nn.Module):
    """Shared shape checks, initialization and layer stack of `GRU` and `LSTM`."""

    chunks: int

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, output: Output = "last"
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if min(input_size, hidden_size, num_layers) < 1:
            raise ModelSpecError(
                f"{name} needs positive input_size, hidden_size and num_layers "
                f"(got {input_size}, {hidden_size}, {num_layers})."
            )
        if output not in OUTPUTS:
            raise ModelSpecError(f"{name} output '{output}' is unknown.", hint=f"Use {OUTPUTS}.")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.output = output
        self.layers = nn.ModuleList(
            _Layer(input_size if i == 0 else hidden_size, hidden_size, self.chunks)
            for i in range(num_layers)
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform on ±1/sqrt(hidden) from torch's global generator, in `nn.GRU`'s order
        (per layer: input weight, hidden weight, input bias, hidden bias)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for layer in self.layers:
                for p in (layer.ih.weight, layer.hh.weight, layer.ih.bias, layer.hh.bias):
                    p.uniform_(-bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, time, features) to the top layer's last hidden state (batch, hidden),
        or to its every state (batch, time, hidden). The initial state is zero."""
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ModelSpecError(
                f"{type(self).__name__} expects (batch, time, {self.input_size}) input, "
                f"got {tuple(x.shape)}."
            )
        seq = x
        for depth, layer in enumerate(self.layers):
            gates_x = layer.ih(seq)  # the whole sequence in one matmul
            keep = self.output == "sequence" or depth < self.num_layers - 1
            states = self._run(layer, gates_x, keep)
            seq = torch.stack(states, dim=1) if keep else states[-1]
        return seq

    def _run(self, layer: _Layer, gates_x: torch.Tensor, keep: bool) -> list[torch.Tensor]:
        """Hidden states over time from input gates (batch, time, chunks * hidden)."""
        raise NotImplementedError


class GRU(_Recurrent):
    """Gated recurrent unit, equal to `torch.nn.GRU(batch_first=True)`; gates r, z, n."""

    chunks = 3

    def _run(self, layer: _Layer, gates_x: torch.Tensor, keep: bool) -> list[torch.Tensor]:
        size = self.hidden_size
        h = gates_x.new_zeros(gates_x.shape[0], size)
        states = []
        for t in range(gates_x.shape[1]):
            gx = gates_x[:, t]
            # hh runs at t = 0 too (on zeros): its bias is part of every step's gates
            gh = layer.hh(h)
            r, z = torch.sigmoid(gx[:, : 2 * size] + gh[:, : 2 * size]).chunk(2, dim=1)
            n = torch.tanh(gx[:, 2 * size :] + r * gh[:, 2 * size :])
            h = n + z * (h - n)  # (1 - z) * n + z * h
            if keep or t == gates_x.shape[1] - 1:
                states.append(h)
        return states


class LSTM(_Recurrent):
    """Long short-term memory, equal to `torch.nn.LSTM(batch_first=True)`; gates i, f, g, o."""

    chunks = 4

    def _run(self, layer: _Layer, gates_x: torch.Tensor, keep: bool) -> list[torch.Tensor]:
        size = self.hidden_size
        h = gates_x.new_zeros(gates_x.shape[0], size)
        c = h
        states = []
        for t in range(gates_x.shape[1]):
            gates = gates_x[:, t] + layer.hh(h)
            # one sigmoid over all four gates (g's quarter unused) is cheaper than a cat
            i, f, _, o = torch.sigmoid(gates).chunk(4, dim=1)
            c = f * c + i * torch.tanh(gates[:, 2 * size : 3 * size])
            h = o * torch.tanh(c)
            if keep or t == gates_x.shape[1] - 1:
                states.append(h)
        return states


def copy_torch_weights(target: GRU | LSTM, source: nn.GRU | nn.LSTM) -> None:
    """Copy an `nn.GRU` / `nn.LSTM`'s weights into `target`, for checks against torch and
    to start from a model trained with torch's own layers."""
    kind = {GRU: nn.GRU, LSTM: nn.LSTM}[type(target)]
    if (
        type(source) is not kind
        or (source.input_size, source.hidden_size, source.num_layers)
        != (target.input_size, target.hidden_size, target.num_layers)
        or not source.bias
        or source.bidirectional
        or getattr(source, "proj_size", 0)
    ):
        raise ModelSpecError(
            f"Cannot copy {source!r} into {target!r}: it needs a unidirectional "
            f"{kind.__name__} with biases and the same sizes."
        )
    with torch.no_grad():
        for k, layer in enumerate(target.layers):
            layer.ih.weight.copy_(getattr(source, f"weight_ih_l{k}"))
            layer.hh.weight.copy_(getattr(source, f"weight_hh_l{k}"))
            layer.ih.bias.copy_(getattr(source, f"bias_ih_l{k}"))
            layer.hh.bias.copy_(getattr(source, f"bias_hh_l{k}"))
