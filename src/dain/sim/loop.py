"""The baseline the engines are measured against: a straightforward per-client PyTorch loop
(one model, one optimizer, one pass over the client's data per client), on the same data,
batch orders and strategy. For a layer model the loop is what a node runs: `train_local`
for each client, then the same server side."""

from __future__ import annotations

import itertools

import numpy as np
import torch
from torch import nn

from dain.learning import ServerState, init_params, make_strategy, stack, train_local, unstack
from dain.sim.engine import (
    Federation,
    Server,
    SimConfig,
    batch_orders,
    evaluate,
    init_stacked,
    names_of,
)


def client_model(widths: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(widths)):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def train_client(
    model: nn.Sequential, x: torch.Tensor, y: torch.Tensor, orders: list[torch.Tensor],
    config: SimConfig, regression: bool,
) -> None:  # fmt: skip
    optimizer = torch.optim.SGD(model.parameters(), lr=config.learning_rate)
    loss_fn = nn.MSELoss() if regression else nn.CrossEntropyLoss()
    for order in orders:
        for start in range(0, len(y), config.batch_size):
            batch = order[start : start + config.batch_size]
            optimizer.zero_grad()
            out = model(x[batch])
            loss = loss_fn(out[:, 0], y[batch]) if regression else loss_fn(out, y[batch])
            loss.backward()
            optimizer.step()


def simulate_loop(
    config: SimConfig, fed: Federation, rounds: int | None = None
) -> tuple[list[float], dict[str, np.ndarray]]:
    """Test accuracy per round and the final global parameters."""
    widths = [fed.x.shape[2], *config.hidden, fed.outputs]
    start = init_stacked(widths, 1, config.seed)
    names = names_of(start)
    global_params = {n: p[0].numpy().copy() for n, p in zip(names, start, strict=True)}
    strategy = make_strategy(config.strategy, **config.strategy_options)
    state = ServerState()
    generator = torch.Generator().manual_seed(config.seed + 3)
    weights = fed.counts.numpy().astype(np.float64)
    accuracies = []
    for _ in range(rounds or config.rounds):
        orders = [batch_orders(fed.counts, fed.y.shape[1], generator) for _ in range(config.epochs)]
        deltas = []
        for c in range(len(fed.counts)):
            n = int(fed.counts[c])
            model = client_model(widths)
            model.load_state_dict({k: torch.from_numpy(v) for k, v in global_params.items()})
            train_client(model, fed.x[c, :n], fed.y[c, :n], [o[c, :n] for o in orders], config,
                         fed.regression)  # fmt: skip
            trained = {k: v.detach().numpy() for k, v in model.state_dict().items()}
            deltas.append({k: trained[k] - global_params[k] for k in global_params})
        matrix, order, shapes = stack(deltas)
        combined = unstack(strategy.rule(matrix, weights), order, shapes)
        global_params, state = strategy.apply(state, global_params, combined)
        stacked = [torch.from_numpy(global_params[n]).unsqueeze(0) for n in names]
        accuracies.append(evaluate(fed, stacked))
    return accuracies, global_params


def simulate_layers_loop(
    config: SimConfig, fed: Federation, rounds: int | None = None
) -> tuple[list[float], dict[str, np.ndarray]]:
    """A layer model's test score per round and its final global parameters, each client
    trained on its own by `dain.learning.train_local` from the seed the engine uses."""
    from dain.sim.functional import client_seed, model_of, outputs, score

    assert fed.spec is not None
    module, names = model_of(fed)
    global_params = init_params(fed.spec, config.seed)
    server = Server(config, fed.counts, names, [global_params[n].shape for n in names])
    train = config.train_config()
    scores = []
    for round_no in range(1, (rounds or config.rounds) + 1):
        trained: list[list[np.ndarray]] = [[] for _ in names]
        for c, count in enumerate(fed.counts.tolist()):
            result = train_local(fed.spec, global_params, fed.x[c, :count].numpy(),
                                 fed.y[c, :count].numpy(), train,
                                 client_seed(config.seed, round_no, c),
                                 proximal_mu=server.strategy.proximal_mu)  # fmt: skip
            for column, name in zip(trained, names, strict=True):
                column.append(result.params[name])
        stacked = [torch.from_numpy(np.stack(column)) for column in trained]
        now = [torch.from_numpy(global_params[n]).unsqueeze(0) for n in names]
        global_params = {n: np.asarray(v, np.float32) for n, v in server.step(stacked, now).items()}
        tensors = [torch.as_tensor(global_params[n], dtype=torch.float32) for n in names]
        scores.append(score(fed, outputs(fed, module, names, tensors)))
    return scores, global_params
