"""Federated training of many simulated clients of any layer model at once.

The MLP engine (`dain.sim.engine`) stacks weights by hand and multiplies them in batches;
that does not reach convolutions, recurrent layers or norms. Here every client's
parameters are stacked along a leading axis and one local SGD step for all clients is
`torch.func.vmap` over `torch.func.grad` of the model's loss through
`torch.func.functional_call`: PyTorch batches each layer's kernel over clients (a
convolution becomes one grouped convolution), so a step costs about one large forward and
backward pass instead of one small pass per client. Dropout draws differently per client
(`randomness="different"`).

Everything else is as in the MLP engine: rows padded to the largest client and masked,
so a client whose data ran out stops moving (its momentum too); the server side is the
same `Server` (strategies, attacks, client-level privacy); the run follows its seed. Each
client's batch order is the one `dain.learning.train_local` draws from the client's seed
(`client_seed`), so a per-client loop of `train_local` (`dain.sim.loop.simulate_layers_loop`)
gives the same model."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional

from dain.learning import (
    LearningError,
    build_model,
    classification_metrics,
    init_params,
    regression_metrics,
)
from dain.sim.batched import batched_forward, batched_gradients
from dain.sim.engine import Federation, Server, SimConfig, SimResult
from dain.sim.layer_data import build_layer_federation
from dain.sim.memory import reused_memory
from dain.sim.threads import compute_threads

Tensors = list[torch.Tensor]
GradFn = Callable[..., tuple[torch.Tensor, ...]]


def client_seed(seed: int, round_no: int, client: int) -> int:
    """The seed of a client's batch order in a round (what a node derives from the job's
    seed, the round and its asset)."""
    return (seed * 1_000_003 + round_no) * 1_000_003 + client


def client_orders(counts: torch.Tensor, longest: int, seeds: Sequence[int],
                  epochs: int) -> torch.Tensor:  # fmt: skip
    """(epochs, clients, longest): each client's row order per epoch as `train_local`
    draws it from the client's seed, its padding rows after."""
    orders = torch.arange(longest).repeat(epochs, len(counts), 1)
    generator = torch.Generator()
    for c, (count, seed) in enumerate(zip(counts.tolist(), seeds, strict=True)):
        generator.manual_seed(seed)
        for epoch in range(epochs):
            orders[epoch, c, :count] = torch.randperm(count, generator=generator)
    return orders


def client_gradients(module: nn.Module, names: list[str], regression: bool,
                     proximal_mu: float) -> GradFn:  # fmt: skip
    """(params, x, y, mask, class weights, anchor) -> every client's gradients, each
    argument but the anchor (the global model) stacked over clients."""

    def loss(params: tuple[torch.Tensor, ...], x: torch.Tensor, y: torch.Tensor,
             mask: torch.Tensor, weights: torch.Tensor,
             anchor: tuple[torch.Tensor, ...]) -> torch.Tensor:  # fmt: skip
        out = torch.func.functional_call(module, dict(zip(names, params, strict=True)), (x,))
        if regression:
            per_row = (out[:, 0] - y) ** 2
        else:  # cross-entropy scaled by the row's class weight, as `row_losses`
            chosen = functional.log_softmax(out, dim=1).gather(1, y.unsqueeze(1))[:, 0]
            per_row = -chosen * weights[y]
        total = (per_row * mask).sum() / mask.sum().clamp(min=1)  # mean over real rows
        if proximal_mu:
            drift = sum(((p - a) ** 2).sum() for p, a in zip(params, anchor, strict=True))
            total = total + proximal_mu / 2 * drift
        return total

    return torch.func.vmap(torch.func.grad(loss), in_dims=(0, 0, 0, 0, 0, None),
                           randomness="different")  # fmt: skip


def local_training(
    fed: Federation,
    module: nn.Module,
    names: list[str],
    global_params: Tensors,
    config: SimConfig,
    orders: torch.Tensor,
    proximal_mu: float = 0.0,
    *,
    batched: bool = True,
) -> Tensors:
    """Every client's parameters (clients, *shape) after its local epochs of mini-batch
    SGD (with momentum, as torch.optim.SGD), all at once; gradients from
    `batched_gradients` unless `batched` is off (then `vmap` over `grad`)."""
    clients, longest = fed.y.shape
    params = [p.unsqueeze(0).expand(clients, *p.shape) for p in global_params]
    velocity = [torch.zeros_like(p) for p in params] if config.momentum else []
    use_batched = batched and isinstance(module, nn.Sequential)
    make = batched_gradients if use_batched else client_gradients
    gradients = make(module, names, fed.regression, proximal_mu)
    weights = fed.class_weights if fed.class_weights is not None else torch.ones(clients, 1)
    anchor = tuple(global_params)
    rows = torch.arange(clients).unsqueeze(1)
    size = config.batch_size
    for order in orders:  # one per epoch
        for start in range(0, longest, size):
            at = torch.arange(start, min(start + size, longest))
            picked = order[:, at]
            mask = at.unsqueeze(0) < fed.counts.unsqueeze(1)
            grads = gradients(tuple(params), fed.x[rows, picked], fed.y[rows, picked],
                              mask.float(), weights, anchor)  # fmt: skip
            active = mask[:, 0]  # a client with no rows left takes no step
            everyone = bool(active.all())
            for i, (p, g) in enumerate(zip(params, grads, strict=True)):
                keep = active.view(clients, *(1,) * (p.dim() - 1))
                if velocity:
                    moved = config.momentum * velocity[i] + g
                    velocity[i] = moved if everyone else torch.where(keep, moved, velocity[i])
                    g = velocity[i]
                stepped = torch.add(p, g, alpha=-config.learning_rate)  # as torch.optim.SGD
                params[i] = stepped if everyone else torch.where(keep, stepped, p)
    return params


def outputs(fed: Federation, module: nn.Module, names: list[str], params: Tensors) -> torch.Tensor:
    """The global model's outputs on the test rows (evaluation mode: no dropout), through
    `batched_forward` as one client (its channels-last kernels are the faster ones)."""
    module.eval()
    try:
        with torch.no_grad():
            if not isinstance(module, nn.Sequential):
                return torch.func.functional_call(module, dict(zip(names, params, strict=True)),
                                                  (fed.test_x,))  # fmt: skip
            one = {n: p.unsqueeze(0) for n, p in zip(names, params, strict=True)}
            return batched_forward(module)(one, fed.test_x.unsqueeze(0))[0]
    finally:
        module.train()


def score(fed: Federation, out: torch.Tensor) -> float:
    """Test accuracy, or R^2 for regression."""
    if fed.regression:
        residual = float(((out[:, 0] - fed.test_y) ** 2).sum())
        total = float(((fed.test_y - fed.test_y.mean()) ** 2).sum()) or 1.0
        return 1 - residual / total
    return float((out.argmax(dim=1) == fed.test_y).float().mean())


def test_metrics(fed: Federation, out: torch.Tensor) -> dict[str, float]:
    """The scores a requester reads (balanced accuracy and AUC, or R^2 and errors; errors
    in the target's standard units)."""
    y = fed.test_y.numpy()
    if fed.regression:
        return regression_metrics(y, out[:, 0].double().numpy()).scores()
    probabilities = torch.softmax(out.double(), dim=1).numpy()
    return classification_metrics(y, probabilities).scores()


class _ChannelsLastMaxPool2d(nn.MaxPool2d):
    """Max pooling on channels-last memory: the same values and gradients, but PyTorch's
    CPU kernel for small maps in the default layout took 3x as long (15 against 5 ms per
    step for the imaging CNN's pools, 100 clients), a third of the whole step."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = x.movedim(-3, -1).contiguous().movedim(-1, -3)  # logical shape unchanged
        return functional.max_pool2d(last, self.kernel_size, self.stride, self.padding,
                                     self.dilation, ceil_mode=self.ceil_mode)  # fmt: skip


class _ChannelsLastReLU(nn.ReLU):
    """ReLU on channels-last memory, so that its backward meets the pool's gradient in
    the same layout (mixed layouts made it the slowest kernel of the step)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            return functional.relu(x)
        return functional.relu(x.movedim(-3, -1).contiguous().movedim(-1, -3))


def _faster(module: nn.Module) -> None:
    """Swaps kernels for faster equivalents in place (no parameters change names)."""
    for name, child in module.named_children():
        if type(child) is nn.MaxPool2d:
            setattr(module, name, _ChannelsLastMaxPool2d(child.kernel_size, child.stride,
                                                         child.padding, child.dilation,
                                                         ceil_mode=child.ceil_mode))  # fmt: skip
        elif type(child) is nn.ReLU:
            setattr(module, name, _ChannelsLastReLU())
        else:
            _faster(child)


def model_of(fed: Federation) -> tuple[nn.Module, list[str]]:
    """The module to call functionally and its parameter names (a model with buffers,
    such as batch norm's, would need them stacked too: the vocabulary has none)."""
    if fed.spec is None:
        raise LearningError("This federation holds no layer model; build it from the config.")
    module = build_model(fed.spec)
    _faster(module)
    names = [name for name, _ in module.named_parameters()]
    if names != list(module.state_dict()):
        raise LearningError("The simulator cannot stack a model with buffers.")
    return module, names


def simulate_layers(
    config: SimConfig,
    progress: Callable[[int, float], None] | None = None,
    *,
    fed: Federation | None = None,
    threads: int = 0,
) -> SimResult:
    """`dain.sim.simulate` for a layer model; one thread unless told (see `threads`)."""
    began = time.perf_counter()
    fed = fed or build_layer_federation(config)
    with compute_threads(threads or 1), reused_memory():
        result = _simulate(config, progress, fed)
    result.seconds = time.perf_counter() - began
    return result


def _simulate(
    config: SimConfig, progress: Callable[[int, float], None] | None, fed: Federation
) -> SimResult:
    began = time.perf_counter()
    module, names = model_of(fed)
    assert fed.spec is not None
    start = init_params(fed.spec, config.seed)
    params = [torch.from_numpy(start[n]) for n in names]
    server = Server(config, fed.counts, names, [tuple(p.shape) for p in params])
    clients, longest = fed.y.shape
    scores = []
    for round_no in range(1, config.rounds + 1):
        seeds = [client_seed(config.seed, round_no, c) for c in range(clients)]
        orders = client_orders(fed.counts, longest, seeds, config.epochs)
        trained = local_training(fed, module, names, params, config, orders,
                                 server.strategy.proximal_mu)  # fmt: skip
        stacked = [p.unsqueeze(0).expand(clients, *p.shape) for p in params]
        new_global = server.step(trained, stacked)
        params = [torch.as_tensor(new_global[n], dtype=torch.float32) for n in names]
        scores.append(score(fed, outputs(fed, module, names, params)))
        if progress:
            progress(round_no, scores[-1])
    final = {n: p.numpy().copy() for n, p in zip(names, params, strict=True)}
    epsilon = config.privacy.epsilon(config.rounds) if config.privacy.private else None
    metrics = test_metrics(fed, outputs(fed, module, names, params))
    return SimResult(config, scores, time.perf_counter() - began, final, epsilon, metrics)
