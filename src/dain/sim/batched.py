"""Every client's forward pass in one pass of batched kernels, for `dain.sim.functional`.

`vmap` over `grad` turns each layer into a batched kernel by itself, but for the imaging
CNN it spent about a third of a step moving the clients' axis in and out of place around
its grouped convolutions. Here each layer of the vocabulary is written once for stacked
parameters (clients first) and activations laid out as (clients, rows, *example):

- linear: one batched matrix product per layer (`baddbmm`);
- conv1d / conv2d: one grouped convolution, the clients folded into its channels;
  two-dimensional maps stay in channels-last memory, where PyTorch's CPU kernels for
  convolution, pooling and their backward passes are several times faster on small maps;
- pooling: the same folding; group norm too (its groups never straddle two clients);
  layer norm with each client's scale and shift broadcast;
- activations and dropout: elementwise on any layout (dropout draws per client);
- a ReLU right before a max pool runs after it: max(relu(x)) = relu(max(x)), with the
  same gradients, on a quarter of the values.

Any other layer (recurrent, embedding, residual, a fine-tuning adapter) runs under `vmap`
over the clients, so every model of the vocabulary has a forward here; autograd then
differentiates the whole pass. The clients' losses are summed: each client's gradient is
that of its own loss, as under `vmap(grad)`."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional

Forward = Callable[[dict[str, torch.Tensor], torch.Tensor], torch.Tensor]

_POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d,
          nn.AdaptiveAvgPool2d)  # fmt: skip
_ELEMENTWISE = (nn.ReLU, nn.GELU, nn.Tanh, nn.Sigmoid, nn.Dropout)


def batched_forward(module: nn.Sequential) -> Forward:
    """(stacked parameters by name, x of (clients, rows, *example)) -> outputs of
    (clients, rows, *out), each client through its own parameters."""
    layers = list(module.named_children())
    steps: list[Forward] = []
    i = 0
    while i < len(layers):
        name, layer = layers[i]
        after = layers[i + 1][1] if i + 1 < len(layers) else None
        if isinstance(layer, nn.ReLU) and isinstance(after, nn.MaxPool1d | nn.MaxPool2d):
            steps += [_layer_step(layers[i + 1][0], after), _layer_step(name, layer)]
            i += 2
        else:
            steps.append(_layer_step(name, layer))
            i += 1

    def forward(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        for step in steps:
            x = step(params, x)
        return x

    return forward


def has_fast_path(layer: nn.Module) -> bool:
    """Whether the layer runs on its own batched kernel (else under `vmap`)."""
    if isinstance(layer, nn.Conv1d | nn.Conv2d) and layer.padding_mode != "zeros":
        return False
    return isinstance(layer, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Flatten, nn.LayerNorm,
                              nn.GroupNorm, *_POOLS, *_ELEMENTWISE)) and _plain(layer)  # fmt: skip


def _plain(layer: nn.Module) -> bool:
    """The class is PyTorch's own (or one of `functional`'s faster kernels of it): a
    subclass such as an adapter may compute something else."""
    return type(layer).__module__.startswith("torch.nn") or type(layer).__name__.startswith(
        "_ChannelsLast"
    )


def _layer_step(name: str, layer: nn.Module) -> Forward:
    prefix = f"{name}."
    if not has_fast_path(layer):
        return _vmapped(prefix, layer)
    if isinstance(layer, nn.Linear):
        return lambda p, x: _linear(x, p[prefix + "weight"], p.get(prefix + "bias"))
    if isinstance(layer, nn.Conv1d | nn.Conv2d):
        return lambda p, x: _conv(layer, x, p[prefix + "weight"], p.get(prefix + "bias"))
    if isinstance(layer, _POOLS):  # PyTorch's own kernel (not `functional`'s copies)
        pool = next(kind for kind in _POOLS if isinstance(layer, kind)).forward.__get__(layer)
        return lambda p, x: _folded(x, pool)
    if isinstance(layer, nn.Flatten):  # its axes counted from the rows' axis
        end = layer.end_dim + 1 if layer.end_dim >= 0 else layer.end_dim
        return lambda p, x: x.flatten(layer.start_dim + 1, end)
    if isinstance(layer, nn.LayerNorm):
        return lambda p, x: _layer_norm(layer, x, p.get(prefix + "weight"), p.get(prefix + "bias"))
    if isinstance(layer, nn.GroupNorm):
        return lambda p, x: _group_norm(layer, x, p.get(prefix + "weight"), p.get(prefix + "bias"))
    if isinstance(layer, nn.ReLU):
        return lambda p, x: functional.relu(x)
    return lambda p, x: layer(x)  # elementwise: any layout


def _vmapped(prefix: str, layer: nn.Module) -> Forward:
    """The layer under `vmap` over the clients (each call draws its own randomness)."""
    own = [name for name, _ in layer.named_parameters()]

    def one(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(layer, params, (x,))

    batched = torch.func.vmap(one, randomness="different")

    def step(p: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return batched({name: p[prefix + name] for name in own}, x)

    return step


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """x (clients, rows, *, in) @ weight (clients, out, in)^T + bias (clients, out)."""
    clients, *middle, features = x.shape
    flat = x.reshape(clients, -1, features)
    if bias is None:
        out = torch.bmm(flat, weight.transpose(1, 2))
    else:
        out = torch.baddbmm(bias.unsqueeze(1), flat, weight.transpose(1, 2))
    return out.view(clients, *middle, -1)


def _fold(x: torch.Tensor) -> torch.Tensor:
    """(clients, rows, channels, *map) -> (rows, clients x channels, *map), a 2-D map in
    channels-last memory."""
    clients, rows, channels, *grid = x.shape
    folded = x.transpose(0, 1).reshape(rows, clients * channels, *grid)
    if len(grid) == 2:
        return folded.contiguous(memory_format=torch.channels_last)
    return folded


def _unfold(y: torch.Tensor, clients: int) -> torch.Tensor:
    rows, channels, *grid = y.shape
    return y.view(rows, clients, channels // clients, *grid).transpose(0, 1)


def _folded(x: torch.Tensor, kernel: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """A kernel that treats channels alike (pooling) applied to every client's maps."""
    return _unfold(kernel(_fold(x)), x.shape[0])


def _conv(layer: nn.Conv1d | nn.Conv2d, x: torch.Tensor, weight: torch.Tensor,
          bias: torch.Tensor | None) -> torch.Tensor:  # fmt: skip
    """Every client's convolution as one grouped convolution (a group per client)."""
    clients, (_, _, in_channels, *size) = x.shape[0], weight.shape
    if isinstance(layer, nn.Conv2d):  # kernels in the maps' layout, else PyTorch copies them
        last = weight.permute(0, 1, 3, 4, 2).reshape(-1, *size, in_channels)  # one copy at most
        kernels, kernel = last.permute(0, 3, 1, 2), functional.conv2d
    else:
        kernels, kernel = weight.reshape(-1, in_channels, *size), functional.conv1d
    out = kernel(_fold(x), kernels, None if bias is None else bias.reshape(-1), layer.stride,
                 layer.padding, layer.dilation, groups=clients * layer.groups)  # fmt: skip
    return _unfold(out, clients)


def _layer_norm(layer: nn.LayerNorm, x: torch.Tensor, weight: torch.Tensor | None,
                bias: torch.Tensor | None) -> torch.Tensor:  # fmt: skip
    out = functional.layer_norm(x, layer.normalized_shape, eps=layer.eps)
    spread = (x.shape[0], *(1,) * (x.dim() - 1 - len(layer.normalized_shape)),
              *layer.normalized_shape)  # fmt: skip
    if weight is not None:
        out = out * weight.view(spread)
    if bias is not None:
        out = out + bias.view(spread)
    return out


def _group_norm(layer: nn.GroupNorm, x: torch.Tensor, weight: torch.Tensor | None,
                bias: torch.Tensor | None) -> torch.Tensor:  # fmt: skip
    clients = x.shape[0]
    flat = x.transpose(0, 1).reshape(x.shape[1], -1, *x.shape[3:])  # groups stay within a client
    out = functional.group_norm(flat, clients * layer.num_groups,
                                None if weight is None else weight.reshape(-1),
                                None if bias is None else bias.reshape(-1), layer.eps)  # fmt: skip
    return _unfold(out, clients)


def batched_gradients(module: nn.Sequential, names: list[str], regression: bool,
                      proximal_mu: float) -> Callable[..., tuple[torch.Tensor, ...]]:  # fmt: skip
    """The same function as `functional.client_gradients` (vmap over grad), on
    `batched_forward`: (params, x, y, mask, class weights, anchor) -> every client's
    gradients, each argument but the anchor (the global model) stacked over clients."""
    forward = batched_forward(module)

    def gradients(params: tuple[torch.Tensor, ...], x: torch.Tensor, y: torch.Tensor,
                  mask: torch.Tensor, weights: torch.Tensor,
                  anchor: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:  # fmt: skip
        leaves = [p.detach().requires_grad_() for p in params]
        with torch.enable_grad():
            out = forward(dict(zip(names, leaves, strict=True)), x)
            if regression:
                per_row = (out[..., 0] - y) ** 2
            else:  # cross-entropy scaled by the row's class weight, as `row_losses`
                chosen = functional.log_softmax(out, dim=-1).gather(-1, y.unsqueeze(-1))[..., 0]
                per_row = -chosen * weights.gather(1, y)
            # each client's mean over its real rows; their sum separates the clients
            total = ((per_row * mask).sum(1) / mask.sum(1).clamp(min=1)).sum()
            if proximal_mu:
                drift = sum(((p - a) ** 2).sum() for p, a in zip(leaves, anchor, strict=True))
                total = total + proximal_mu / 2 * drift
            found = torch.autograd.grad(total, leaves, allow_unused=True)
        return tuple(torch.zeros_like(p) if g is None else g
                     for p, g in zip(leaves, found, strict=True))  # fmt: skip

    return gradients
