"""Deprecated: the stateful strategy interface `dain.node` used before a strategy's server
state became a value. Delete this module once `dain.node` imports everything from
`dain.learning`: `make_strategy` there returns a frozen `Strategy` whose `aggregate` and
`apply` take a `ServerState` and return the new one, stored with
`ServerState.to_params()` and read back with `ServerState.from_params(tensors)`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dain.learning import strategies

# for dain.node until it adopts dain.learning.stack / unstack
from dain.learning.aggregate import stack, unstack
from dain.learning.optimizers import ServerState
from dain.learning.params import ClientUpdate, Params

# for dain.node until it adopts dain.learning.STRATEGY_NAMES
from dain.learning.strategies import STRATEGY_NAMES

__all__ = ["STRATEGY_NAMES", "Strategy", "make_strategy", "stack", "unstack"]


# for dain.node until it adopts dain.learning.Strategy (frozen) with a ServerState value
class Strategy:
    """A `dain.learning.Strategy` that keeps its server state between calls."""

    def __init__(self, strategy: strategies.Strategy) -> None:
        self.strategy = strategy
        self._state = ServerState()

    @property
    def name(self) -> str:
        return self.strategy.name

    @property
    def needs_individual_updates(self) -> bool:
        return self.strategy.needs_individual_updates

    @property
    def proximal_mu(self) -> float:
        return self.strategy.proximal_mu

    def combine(self, updates: Sequence[ClientUpdate]) -> Params:
        return self.strategy.combine(updates)

    def apply(self, global_params: Params, delta: Params) -> Params:
        new_params, self._state = self.strategy.apply(self._state, global_params, delta)
        return new_params

    def aggregate(self, global_params: Params, updates: Sequence[ClientUpdate]) -> Params:
        return self.apply(global_params, self.combine(updates))

    def state(self) -> Params:
        return self._state.to_params()

    def load_state(self, state: Params) -> None:
        self._state = ServerState.from_params(state)


# for dain.node until it adopts dain.learning.make_strategy (returns a frozen Strategy)
def make_strategy(name: str, **options: Any) -> Strategy:
    return Strategy(strategies.make_strategy(name, **options))
