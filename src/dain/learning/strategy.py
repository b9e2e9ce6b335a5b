"""Server-side strategies: how the aggregator turns client updates into the next model.

A strategy is a rule that combines the round's updates (the mean, or a robust rule that
looks at each update) and a server optimizer that applies the combined update to the
global model (plain, with momentum, or adaptive as in Reddi et al. 2021). The optimizers'
state travels with the model (see `state` / `load_state`), since the next round may be
aggregated by another node.

    fedavg      mean, applied as is                         McMahan et al. 2017
    fedavgm     mean, server momentum                       Hsu et al. 2019
    fedprox     mean; clients add a proximal term           Li et al. 2020
    fedadagrad  mean, server Adagrad                        Reddi et al. 2021
    fedadam     mean, server Adam
    fedyogi     mean, server Yogi
    fedmedian   coordinate-wise median                      Yin et al. 2018
    trimmedmean coordinate-wise trimmed mean                Yin et al. 2018
    krum        the most central update                     Blanchard et al. 2017
    multikrum   mean of the m most central updates
    bulyan      Krum selection, then trimmed coordinates    El Mhamdi et al. 2018
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dain.learning import robust
from dain.learning.errors import AggregationError
from dain.learning.models import Params


@dataclass(frozen=True)
class ClientUpdate:
    """A client's change to the global model (new - old) and how many examples made it."""

    delta: Params
    num_examples: int


def stack(updates: Sequence[Params]) -> tuple[np.ndarray, list[str], list[tuple[int, ...]]]:
    """Updates as one (clients x parameters) matrix, with the names and shapes to undo it."""
    if not updates:
        raise AggregationError("There are no updates to aggregate.")
    names = sorted(updates[0])
    shapes = [updates[0][n].shape for n in names]
    for update in updates:
        if sorted(update) != names or [update[n].shape for n in names] != shapes:
            raise AggregationError("Updates differ in tensors or shapes: different models.")
    matrix = np.stack([np.concatenate([u[n].reshape(-1) for n in names]) for u in updates])
    return matrix.astype(np.float32, copy=False), names, shapes


def unstack(vector: np.ndarray, names: list[str], shapes: list[tuple[int, ...]]) -> Params:
    out, at = {}, 0
    for name, shape in zip(names, shapes, strict=True):
        size = int(np.prod(shape))
        out[name] = vector[at : at + size].reshape(shape).astype(np.float32)
        at += size
    return out


# ---- server optimizers -------------------------------------------------------------


@dataclass
class ServerOptimizer:
    """x <- x + step(delta). `kind`: sgd, momentum, adagrad, adam or yogi."""

    kind: str = "sgd"
    learning_rate: float = 1.0
    beta1: float = 0.9
    beta2: float = 0.99
    tau: float = 1e-9
    state: Params = field(default_factory=dict)

    def step(self, global_params: Params, delta: Params) -> Params:
        if self.kind == "sgd":
            return {k: (global_params[k] + self.learning_rate * delta[k]).astype(np.float32)
                    for k in global_params}  # fmt: skip
        out = {}
        for k, x in global_params.items():
            d = delta[k].astype(np.float64)
            m = self.state.get(f"m.{k}", np.zeros_like(d))
            if self.kind == "momentum":
                m = self.beta1 * m + d
                out[k] = (x + self.learning_rate * m).astype(np.float32)
                self.state[f"m.{k}"] = m.astype(np.float32)
                continue
            m = self.beta1 * m + (1 - self.beta1) * d
            v = self.state.get(f"v.{k}", np.zeros_like(d)).astype(np.float64)
            if self.kind == "adagrad":
                v = v + d * d
            elif self.kind == "adam":
                v = self.beta2 * v + (1 - self.beta2) * d * d
            elif self.kind == "yogi":
                v = v - (1 - self.beta2) * d * d * np.sign(v - d * d)
            else:
                raise AggregationError(f"Unknown server optimizer '{self.kind}'.")
            out[k] = (x + self.learning_rate * m / (np.sqrt(v) + self.tau)).astype(np.float32)
            self.state[f"m.{k}"] = m.astype(np.float32)
            self.state[f"v.{k}"] = v.astype(np.float32)
        return out


# ---- strategies --------------------------------------------------------------------


Rule = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Strategy:
    name: str
    rule: Rule  # (updates matrix, example counts) -> combined update vector
    optimizer: ServerOptimizer = field(default_factory=ServerOptimizer)
    needs_individual_updates: bool = False  # robust rules: not with secure aggregation
    proximal_mu: float = 0.0  # FedProx: clients add mu/2 ||w - w_global||^2 to their loss

    def combine(self, updates: Sequence[ClientUpdate]) -> Params:
        matrix, names, shapes = stack([u.delta for u in updates])
        weights = np.asarray([u.num_examples for u in updates], dtype=np.float64)
        if (weights < 0).any() or weights.sum() <= 0:
            raise AggregationError("Example counts must be non-negative and not all zero.")
        return unstack(self.rule(matrix, weights), names, shapes)

    def apply(self, global_params: Params, delta: Params) -> Params:
        """The new global model from the combined update (also from a secure sum's mean)."""
        return self.optimizer.step(global_params, delta)

    def aggregate(self, global_params: Params, updates: Sequence[ClientUpdate]) -> Params:
        return self.apply(global_params, self.combine(updates))

    def state(self) -> Params:
        return dict(self.optimizer.state)

    def load_state(self, state: Params) -> None:
        self.optimizer.state = dict(state)


def _mean(matrix: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return robust.mean(matrix, weights)


OPTIONS = {"server_lr", "momentum", "beta1", "beta2", "tau", "proximal_mu", "trim", "byzantine",
           "keep"}  # fmt: skip


def make_strategy(name: str, **options: Any) -> Strategy:
    """A strategy by name; `options` override its settings (server_lr, momentum, beta1,
    beta2, tau, proximal_mu, trim, byzantine, keep)."""
    unknown = sorted(set(options) - OPTIONS)
    if unknown:
        raise AggregationError(
            f"Unknown strategy options: {', '.join(unknown)}.",
            hint=f"Options: {', '.join(sorted(OPTIONS))}.",
        )
    lr = float(options.get("server_lr", 1.0))
    f = int(options.get("byzantine", 1))
    trim = float(options.get("trim", 0.1))

    def adaptive(kind: str) -> ServerOptimizer:
        return ServerOptimizer(kind, float(options.get("server_lr", 0.1)),
                               float(options.get("beta1", 0.9)), float(options.get("beta2", 0.99)),
                               float(options.get("tau", 1e-3)))  # fmt: skip

    builders: dict[str, Callable[[], Strategy]] = {
        "fedavg": lambda: Strategy("fedavg", _mean, ServerOptimizer("sgd", lr)),
        "fedavgm": lambda: Strategy(
            "fedavgm", _mean, ServerOptimizer("momentum", lr, float(options.get("momentum", 0.9)))
        ),
        "fedprox": lambda: Strategy(
            "fedprox",
            _mean,
            ServerOptimizer("sgd", lr),
            proximal_mu=float(options.get("proximal_mu", 0.01)),
        ),
        "fedadagrad": lambda: Strategy("fedadagrad", _mean, adaptive("adagrad")),
        "fedadam": lambda: Strategy("fedadam", _mean, adaptive("adam")),
        "fedyogi": lambda: Strategy("fedyogi", _mean, adaptive("yogi")),
        "fedmedian": lambda: Strategy(
            "fedmedian", lambda m, w: robust.median(m), ServerOptimizer("sgd", lr), True
        ),
        "trimmedmean": lambda: Strategy(
            "trimmedmean",
            lambda m, w: robust.trimmed_mean(m, trim),
            ServerOptimizer("sgd", lr),
            True,
        ),
        "krum": lambda: Strategy(
            "krum", lambda m, w: robust.multi_krum(m, w, f, 1), ServerOptimizer("sgd", lr), True
        ),
        "multikrum": lambda: Strategy(
            "multikrum",
            lambda m, w: robust.multi_krum(m, w, f, int(options.get("keep", max(1, len(m) - f)))),
            ServerOptimizer("sgd", lr),
            True,
        ),
        "bulyan": lambda: Strategy(
            "bulyan", lambda m, w: robust.bulyan(m, f), ServerOptimizer("sgd", lr), True
        ),
    }
    if name not in builders:
        raise AggregationError(
            f"Unknown strategy '{name}'.", hint=f"Use one of {sorted(builders)}."
        )
    return builders[name]()


STRATEGY_NAMES = (
    "fedavg", "fedavgm", "fedprox", "fedadagrad", "fedadam", "fedyogi",
    "fedmedian", "trimmedmean", "krum", "multikrum", "bulyan",
)  # fmt: skip


def FedAvg(server_learning_rate: float = 1.0) -> Strategy:
    """McMahan et al. 2017: the example-weighted mean of client updates."""
    return make_strategy("fedavg", server_lr=server_learning_rate)
