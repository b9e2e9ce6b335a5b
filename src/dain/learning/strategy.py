"""Server-side strategies: how the aggregator turns client updates into the next model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from dain.learning.aggregate import add, weighted_mean
from dain.learning.models import Params


@dataclass(frozen=True)
class ClientUpdate:
    """A client's change to the global model (new - old) and how many examples made it."""

    delta: Params
    num_examples: int


class Strategy(Protocol):
    name: str

    def aggregate(self, global_params: Params, updates: Sequence[ClientUpdate]) -> Params: ...


@dataclass(frozen=True)
class FedAvg:
    """McMahan et al. 2017: the example-weighted mean of client updates."""

    server_learning_rate: float = 1.0
    name: str = "fedavg"

    def aggregate(self, global_params: Params, updates: Sequence[ClientUpdate]) -> Params:
        mean = weighted_mean([u.delta for u in updates], [u.num_examples for u in updates])
        if self.server_learning_rate != 1.0:
            mean = {k: v * self.server_learning_rate for k, v in mean.items()}
        return add(global_params, mean)


STRATEGIES = {"fedavg": FedAvg}
