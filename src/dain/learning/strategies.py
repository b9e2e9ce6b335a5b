"""Server-side strategies: how the aggregator turns client updates into the next model.

A strategy is a rule from `dain.learning.aggregate` that combines the round's updates (the
mean, or a robust rule that looks at each update) and a server optimizer from
`dain.learning.optimizers` that applies the combined update to the global model. It holds
no state: the server state is a value passed in and returned, so any node can aggregate
the next round from the state the last aggregator stored.

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

from dain.learning import aggregate
from dain.learning.errors import AggregationError
from dain.learning.optimizers import ServerOptimizer, ServerState
from dain.learning.params import ClientUpdate, Params

Rule = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (updates, example counts) -> update


@dataclass(frozen=True)
class Strategy:
    name: str
    rule: Rule
    optimizer: ServerOptimizer = field(default_factory=ServerOptimizer)
    needs_individual_updates: bool = False  # robust rules: not with secure aggregation
    proximal_mu: float = 0.0  # FedProx: clients add mu/2 ||w - w_global||^2 to their loss

    def combine(self, updates: Sequence[ClientUpdate]) -> Params:
        """The round's updates combined into one by the strategy's rule. Every rule refuses
        updates that are not finite; the result is checked too, since a float32 mean of
        values at float32's very largest can round past it."""
        matrix, names, shapes = aggregate.stack([u.delta for u in updates])
        weights = np.asarray([u.num_examples for u in updates], dtype=np.float64)
        aggregate.check_weights(weights)
        with np.errstate(over="ignore", invalid="ignore"):  # refused just below instead
            combined = self.rule(matrix, weights)
        if not np.isfinite(combined).all():
            raise AggregationError(
                f"The {self.name} of these updates is not finite: their values are too large."
            )
        return aggregate.unstack(combined, names, shapes)

    def apply(
        self, state: ServerState, global_params: Params, delta: Params
    ) -> tuple[Params, ServerState]:
        """The new global model and server state from the combined update (also from a
        secure sum's mean)."""
        return self.optimizer.step(state, global_params, delta)

    def aggregate(
        self, state: ServerState, global_params: Params, updates: Sequence[ClientUpdate]
    ) -> tuple[Params, ServerState]:
        return self.apply(state, global_params, self.combine(updates))


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
    plain = ServerOptimizer("sgd", lr)

    def adaptive(kind: str) -> ServerOptimizer:
        return ServerOptimizer(kind, float(options.get("server_lr", 0.1)),
                               float(options.get("beta1", 0.9)), float(options.get("beta2", 0.99)),
                               float(options.get("tau", 1e-3)))  # fmt: skip

    def keep(m: np.ndarray) -> int:
        return int(options.get("keep", max(1, len(m) - f)))

    mean = aggregate.mean
    builders: dict[str, Callable[[], Strategy]] = {
        "fedavg": lambda: Strategy("fedavg", mean, plain),
        "fedavgm": lambda: Strategy(
            "fedavgm", mean, ServerOptimizer("momentum", lr, float(options.get("momentum", 0.9)))
        ),
        "fedprox": lambda: Strategy(
            "fedprox", mean, plain, proximal_mu=float(options.get("proximal_mu", 0.01))
        ),
        "fedadagrad": lambda: Strategy("fedadagrad", mean, adaptive("adagrad")),
        "fedadam": lambda: Strategy("fedadam", mean, adaptive("adam")),
        "fedyogi": lambda: Strategy("fedyogi", mean, adaptive("yogi")),
        "fedmedian": lambda: Strategy("fedmedian", lambda m, w: aggregate.median(m), plain, True),
        "trimmedmean": lambda: Strategy(
            "trimmedmean", lambda m, w: aggregate.trimmed_mean(m, trim), plain, True
        ),
        "krum": lambda: Strategy("krum", lambda m, w: aggregate.krum(m, f), plain, True),
        "multikrum": lambda: Strategy(
            "multikrum", lambda m, w: aggregate.multi_krum(m, w, f, keep(m)), plain, True
        ),
        "bulyan": lambda: Strategy("bulyan", lambda m, w: aggregate.bulyan(m, f), plain, True),
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
