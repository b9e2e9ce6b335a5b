"""Federated training of many simulated clients at once, in one process.

Every client's model is one slice of stacked parameter tensors (clients x out x in), and a
local SGD step for all clients is one batched forward and backward pass: each client's
loss depends only on its own slice, so one backward gives every client its own gradient.
Clients hold different amounts of data: their rows are padded to the largest client and
masked, and a client whose data ran out simply stops moving, exactly as a per-client loop
would. The server side uses the same strategies and attacks as the node network, and
client-level privacy the same clipping and noise as a node (`clip_and_noise_rows`).

A simulation's noise comes from its seed so that a run repeats exactly: it measures what
privacy costs in accuracy and protects nothing, since the seed gives the noise away. A node
draws its noise from the operating system's CSPRNG."""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch.nn import functional

from dain.data import (
    Dataset,
    card_fraud,
    dirichlet_partition,
    iid_partition,
    load_bundled,
    quantity_skew_partition,
    smart_city_load,
    stratified_split,
)
from dain.learning import (
    ATTACKS,
    STRATEGY_NAMES,
    LearningError,
    ModelSpec,
    PrivacyLevel,
    PrivacySpec,
    ServerState,
    Strategy,
    TrainConfig,
    attack_updates,
    attackers,
    clip_and_noise_rows,
    feature_statistics,
    flip_labels,
    make_strategy,
    unstack,
)
from dain.sim.threads import compute_threads, step_work, threads_for

DATASETS = ("breast_cancer", "digits", "wine", "iris", "diabetes", "smart_city", "card_fraud")
PARTITIONS = ("iid", "dirichlet", "quantity")


@dataclass(frozen=True)
class SimConfig:
    dataset: str = "digits"
    hidden: tuple[int, ...] = (64,)
    clients: int = 100
    rounds: int = 20
    partition: str = "iid"
    alpha: float = 0.5  # Dirichlet label skew / quantity skew concentration
    learning_rate: float = 0.05
    batch_size: int = 16
    epochs: int = 1
    strategy: str = "fedavg"
    strategy_options: dict[str, float] = field(default_factory=dict)
    attack: str = "none"
    attack_fraction: float = 0.0
    seed: int = 0
    privacy: PrivacySpec = field(default_factory=PrivacySpec)  # client level only
    # a layer model (`ModelSpec.network`) instead of the MLP of `hidden`: it runs on
    # `dain.sim.functional`, which also takes momentum and class weights
    model: ModelSpec | None = None
    momentum: float = 0.0
    class_weights: tuple[float, ...] = ()
    balance_classes: bool = False
    horizon: int = 1  # series windows: steps ahead of a window's last that it predicts

    def __post_init__(self) -> None:
        problems = []
        if self.dataset not in DATASETS:
            problems.append(f"dataset must be one of {', '.join(DATASETS)}")
        if self.partition not in PARTITIONS:
            problems.append(f"partition must be one of {', '.join(PARTITIONS)}")
        if self.strategy not in STRATEGY_NAMES:
            problems.append(f"strategy must be one of {', '.join(STRATEGY_NAMES)}")
        if self.attack not in ATTACKS:
            problems.append(f"attack must be one of {', '.join(ATTACKS)}")
        if self.clients < 1 or self.rounds < 1 or self.batch_size < 1 or self.epochs < 1:
            problems.append("clients, rounds, batch size and epochs must be at least 1")
        if not self.learning_rate > 0:
            problems.append("the learning rate must be positive")
        problems += self._privacy_problems()
        if self.model is None and (self.momentum or self.class_weights or self.balance_classes):
            problems.append("momentum and class weights need a layer model (model=...): the "
                            "MLP engine runs plain SGD")  # fmt: skip
        if not 0 <= self.momentum < 1 or self.horizon < 1:
            problems.append("momentum must be in [0, 1) and the horizon at least 1")
        if problems:
            raise LearningError("The simulation settings are invalid: " + "; ".join(problems) + ".")

    def _privacy_problems(self) -> list[str]:
        level = self.privacy.level
        if level == PrivacyLevel.RECORD:
            return [
                "record-level privacy (DP-SGD, each client on its own) is not vectorized: "
                "simulate client-level privacy, or run record level on a network of nodes "
                "(dain demo --secure --epsilon)"
            ]
        if level != PrivacyLevel.CLIENT or self.strategy not in STRATEGY_NAMES:
            return []
        problems = []
        if make_strategy(self.strategy).needs_individual_updates:
            problems.append(
                "client-level privacy calibrates its noise to the sum of updates, and "
                f"{self.strategy} looks at each update: use a mean-based strategy"
            )
        if self.privacy.clients > self.clients:
            problems.append(
                f"client-level privacy splits its noise among {self.privacy.clients} "
                f"clients, but {self.clients} take part"
            )
        return problems

    def train_config(self) -> TrainConfig:
        """Local training's settings as a node would read them from a job."""
        return TrainConfig(self.learning_rate, self.epochs, self.batch_size, self.momentum,
                           self.class_weights, self.balance_classes)  # fmt: skip


@dataclass
class SimResult:
    config: SimConfig
    accuracy: list[float]  # test accuracy (R^2 for regression) after each round
    seconds: float = 0.0
    params: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    epsilon: float | None = None  # each client's privacy loss over the run, when private
    metrics: dict[str, float] = field(default_factory=dict)  # layer models: final test scores

    def to_dict(self) -> dict[str, object]:
        config = asdict(self.config)
        if self.config.model is not None:
            config["model"] = self.config.model.to_dict()
        return {"config": config, "accuracy": self.accuracy,
                "final_accuracy": self.accuracy[-1], "seconds": round(self.seconds, 3),
                "epsilon": self.epsilon, "metrics": self.metrics}  # fmt: skip


@dataclass
class Federation:
    """The data side of a simulation: test set, and every client's rows padded to one
    (clients x rows x *example) tensor with a mask."""

    x: torch.Tensor  # (clients, rows, features), or (clients, rows, *example); standardized
    y: torch.Tensor  # (clients, rows): class ids, or float targets
    counts: torch.Tensor  # (clients,)
    test_x: torch.Tensor
    test_y: torch.Tensor
    outputs: int  # classes, or 1 for regression
    regression: bool
    spec: ModelSpec | None = None  # layer models: the model, reading rows as stored here
    class_weights: torch.Tensor | None = None  # layer models: (clients, classes) loss weights


def load_dataset(name: str, seed: int) -> tuple[Dataset, np.ndarray | None]:
    if name == "smart_city":
        data, groups = smart_city_load(seed=seed)
        return data, groups
    if name == "card_fraud":
        return card_fraud(seed=seed), None
    return load_bundled(name), None


def build_federation(config: SimConfig) -> Federation:
    """An MLP's federation (a layer model's: `dain.sim.layer_data`)."""
    data, _ = load_dataset(config.dataset, config.seed)
    rows = np.arange(len(data))
    if data.is_regression:
        rng = np.random.default_rng(config.seed)
        test_rows = np.sort(rng.choice(rows, len(rows) // 5, replace=False))
        train_rows = np.setdiff1d(rows, test_rows)
    else:
        train_rows, test_rows = stratified_split(data.y, 0.2, config.seed)
    train, test = data.subset(train_rows), data.subset(test_rows)
    mean, scale = feature_statistics(train.x)
    mean_a, scale_a = np.asarray(mean, np.float32), np.asarray(scale, np.float32)
    y_train, y_test = train.y, test.y
    if data.is_regression:  # targets in standard units, so one learning rate fits all
        centre, spread = float(y_train.mean()), float(y_train.std() or 1.0)
        y_train, y_test = (y_train - centre) / spread, (y_test - centre) / spread
    parts = partition(config, train.y)
    who = attackers(config.clients, config.attack_fraction, config.seed + 1)
    longest = max(len(p) for p in parts)
    x = np.zeros((config.clients, longest, train.num_features), np.float32)
    y = np.zeros((config.clients, longest), np.float32 if data.is_regression else np.int64)
    for c, part in enumerate(parts):
        x[c, : len(part)] = (train.x[part] - mean_a) / scale_a
        labels = y_train[part]
        if config.attack == "label_flip" and who[c] and not data.is_regression:
            labels = flip_labels(labels, data.num_classes)
        y[c, : len(part)] = labels
    return Federation(
        torch.from_numpy(x), torch.from_numpy(y), torch.tensor([len(p) for p in parts]),
        torch.from_numpy((test.x - mean_a) / scale_a), torch.from_numpy(np.asarray(y_test)),
        data.num_outputs, data.is_regression,
    )  # fmt: skip


def partition(config: SimConfig, y: np.ndarray) -> list[np.ndarray]:
    if config.partition == "iid":
        return iid_partition(len(y), config.clients, config.seed)
    if config.partition == "dirichlet":
        if np.issubdtype(y.dtype, np.floating):
            raise LearningError("Label skew needs classes; use iid or quantity for regression.")
        return dirichlet_partition(y, config.clients, config.alpha, config.seed, min_rows=1)
    return quantity_skew_partition(len(y), config.clients, config.alpha, config.seed)


def init_stacked(widths: list[int], clients: int, seed: int) -> list[torch.Tensor]:
    """PyTorch's default Linear initialization, the same for every client's copy."""
    generator = torch.Generator().manual_seed(seed)
    layers = []
    for fan_in, fan_out in itertools.pairwise(widths):
        bound = 1 / math.sqrt(fan_in)
        weight = (torch.rand(fan_out, fan_in, generator=generator) * 2 - 1) * bound
        bias = (torch.rand(fan_out, generator=generator) * 2 - 1) * bound
        layers += [weight, bias]
    return [p.unsqueeze(0).expand(clients, *p.shape).clone() for p in layers]


def forward(params: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """(clients, batch, features) -> (clients, batch, outputs), each client its own model."""
    h = x
    for i in range(0, len(params), 2):
        # bmm then add: baddbmm with a broadcast bias measured 25x slower here
        h = torch.bmm(h, params[i].transpose(1, 2)) + params[i + 1].unsqueeze(1)
        if i + 2 < len(params):
            h = torch.relu(h)
    return h


def batch_orders(counts: torch.Tensor, longest: int, generator: torch.Generator) -> torch.Tensor:
    """Each client's rows in a random order (its real rows first, padding after)."""
    keys = torch.rand(len(counts), longest, generator=generator)
    keys[torch.arange(longest).unsqueeze(0) >= counts.unsqueeze(1)] = 2.0
    return keys.argsort(dim=1)


def local_training(
    fed: Federation,
    global_params: list[torch.Tensor],
    config: SimConfig,
    orders: list[torch.Tensor],
    proximal_mu: float = 0.0,
) -> list[torch.Tensor]:
    """Every client's model after its local epochs of mini-batch SGD, all at once."""
    clients, longest = fed.y.shape
    params = [p.detach().clone().requires_grad_(True) for p in global_params]
    anchor = [p.detach() for p in global_params]
    steps = math.ceil(longest / config.batch_size)
    rows = torch.arange(clients).unsqueeze(1)
    for order in orders:  # one per epoch
        for step in range(steps):
            at = torch.arange(step * config.batch_size,
                              min((step + 1) * config.batch_size, longest))  # fmt: skip
            picked = order[:, at]
            mask = (at.unsqueeze(0) < fed.counts.unsqueeze(1)).float()
            if not bool(mask.any()):
                break
            out = forward(params, fed.x[rows, picked])
            if fed.regression:
                per_row = (out[..., 0] - fed.y[rows, picked]) ** 2
            else:
                per_row = functional.cross_entropy(
                    out.reshape(-1, fed.outputs), fed.y[rows, picked].reshape(-1),
                    reduction="none",
                ).reshape(mask.shape)  # fmt: skip
            # each client's own mean over its real rows in the batch
            loss = ((per_row * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)).sum()
            if proximal_mu:
                drift = sum(
                    ((p - a) ** 2).flatten(1).sum(dim=1)
                    for p, a in zip(params, anchor, strict=True)
                )
                loss = loss + proximal_mu / 2 * drift.sum()
            grads = torch.autograd.grad(loss, params)
            with torch.no_grad():
                for p, g in zip(params, grads, strict=True):
                    p -= config.learning_rate * g
    return [p.detach() for p in params]


def evaluate(fed: Federation, params: list[torch.Tensor]) -> float:
    with torch.no_grad():
        out = forward([p[:1] for p in params], fed.test_x.unsqueeze(0))[0]
    if fed.regression:
        residual = float(((out[:, 0] - fed.test_y) ** 2).sum())
        total = float(((fed.test_y - fed.test_y.mean()) ** 2).sum()) or 1.0
        return 1 - residual / total
    return float((out.argmax(dim=1) == fed.test_y).float().mean())


def names_of(params: list[torch.Tensor]) -> list[str]:
    return [f"{i // 2 * 2}.{'weight' if i % 2 == 0 else 'bias'}" for i in range(len(params))]


def client_deltas(
    trained: list[torch.Tensor],
    params: list[torch.Tensor],
    privacy: PrivacySpec,
    rng: np.random.Generator,
    names: list[str] | None = None,
) -> np.ndarray:
    """Every client's update as one row, its tensors laid out by name as the strategies
    expect. Under client-level privacy each row is first clipped and noised with its
    tensors in the model's own order (`names`, an MLP's by default), as a node lays out its
    update; the noise comes from `rng`, the run's seeded generator."""
    names = names or names_of(params)
    by_name = sorted(range(len(names)), key=lambda i: names[i])
    if privacy.level != PrivacyLevel.CLIENT:
        return torch.cat([(trained[i] - params[i]).flatten(1) for i in by_name], dim=1).numpy()
    pairs = zip(trained, params, strict=True)
    natural = torch.cat([(t - p).flatten(1) for t, p in pairs], dim=1).numpy()
    noisy, _ = clip_and_noise_rows(natural, privacy, insecure_rng=rng)  # see the docstring
    starts = np.cumsum([0, *(p[0].numel() for p in params)])
    return noisy[:, np.concatenate([np.arange(starts[i], starts[i + 1]) for i in by_name])]


class Server:
    """The server side of a simulated round, shared by both engines and their per-client
    loops: client-level privacy on each update, the attackers' rows replaced, then the
    strategy's rule and server optimizer, with the run's seeded generators."""

    def __init__(self, config: SimConfig, counts: torch.Tensor, names: list[str],
                 shapes: list[tuple[int, ...]]) -> None:  # fmt: skip
        self.config = config
        self.strategy: Strategy = make_strategy(config.strategy, **config.strategy_options)
        self.state = ServerState()
        self.who = attackers(config.clients, config.attack_fraction, config.seed + 1)
        self.rng = np.random.default_rng(config.seed + 2)
        self.noise = np.random.default_rng(config.seed + 4)
        self.weights = counts.numpy().astype(np.float64)
        if config.privacy.level == PrivacyLevel.CLIENT:
            self.weights = np.ones(config.clients)  # noise calibrated to one clipped update each
        self.names = names  # the model's order
        self.shapes = [shapes[i] for i in sorted(range(len(names)), key=lambda i: names[i])]

    def step(
        self, trained: list[torch.Tensor], params: list[torch.Tensor]
    ) -> dict[str, np.ndarray]:
        """The next global model from every client's trained tensors (clients, *shape) and
        this round's (stacked, or expandable to it)."""
        config, names = self.config, self.names
        deltas = client_deltas(trained, params, config.privacy, self.noise, names)
        # attackers send what they like: their rows are replaced after privacy
        matrix = attack_updates(deltas, self.who, config.attack, self.rng)
        global_now = {n: p[0].numpy() for n, p in zip(names, params, strict=True)}
        combined = unstack(self.strategy.rule(matrix, self.weights), sorted(names), self.shapes)
        new_global, self.state = self.strategy.apply(self.state, global_now, combined)
        return new_global


def simulate(
    config: SimConfig,
    progress: Callable[[int, float], None] | None = None,
    *,
    fed: Federation | None = None,
    threads: int = 0,
) -> SimResult:
    """Runs the whole federation; `progress(round, accuracy)` after every round. PyTorch
    and numpy's BLAS use `threads` threads, or (0) as many as the work pays for; the
    caller's thread settings are back afterwards. An MLP runs here, a layer model on
    `dain.sim.functional` (`dain.sim.run` chooses)."""
    began = time.perf_counter()
    fed = fed or build_federation(config)
    widths = [fed.x.shape[2], *config.hidden, fed.outputs]
    work = step_work(config.clients, min(config.batch_size, fed.y.shape[1]), widths)
    with compute_threads(threads or threads_for(work)):
        result = _simulate(config, progress, fed)
    result.seconds = time.perf_counter() - began  # with the data's preparation, as before
    return result


def _simulate(
    config: SimConfig,
    progress: Callable[[int, float], None] | None,
    fed: Federation,
) -> SimResult:
    began = time.perf_counter()
    widths = [fed.x.shape[2], *config.hidden, fed.outputs]
    params = init_stacked(widths, config.clients, config.seed)
    names = names_of(params)
    server = Server(config, fed.counts, names, [tuple(p.shape[1:]) for p in params])
    generator = torch.Generator().manual_seed(config.seed + 3)
    accuracies = []
    for round_no in range(1, config.rounds + 1):
        orders = [batch_orders(fed.counts, fed.y.shape[1], generator) for _ in range(config.epochs)]
        trained = local_training(fed, params, config, orders, server.strategy.proximal_mu)
        new_global = server.step(trained, params)
        params = [
            torch.from_numpy(new_global[n]).unsqueeze(0).expand(config.clients, *p.shape[1:])
            for n, p in zip(names, params, strict=True)
        ]
        accuracies.append(evaluate(fed, params))
        if progress:
            progress(round_no, accuracies[-1])
    final = {n: p[0].numpy().copy() for n, p in zip(names, params, strict=True)}
    epsilon = config.privacy.epsilon(config.rounds) if config.privacy.private else None
    return SimResult(config, accuracies, time.perf_counter() - began, final, epsilon)
