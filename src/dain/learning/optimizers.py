"""Server optimizers: how the combined update moves the global model, as pure functions
of (state, params, delta) -> (new params, new state), after Reddi et al. 2021, "Adaptive
Federated Optimization" (delta plays the part of the negative gradient):

    sgd       x + lr delta
    momentum  m = beta m + delta;                           x + lr m      (Hsu et al. 2019)
    adagrad   m = b1 m + (1 - b1) delta;  v = v + delta^2;  x + lr m / (sqrt(v) + tau)
    adam      ... v = b2 v + (1 - b2) delta^2
    yogi      ... v = v - (1 - b2) delta^2 sign(v - delta^2)

The state is a value (`ServerState`) that travels between aggregators as float32 tensors
(`to_params` / `from_params`), since the next round may be aggregated by another node.
Moments are computed in float64 and stored in float32."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dain.learning.errors import AggregationError
from dain.learning.params import Params

KINDS = ("sgd", "momentum", "adagrad", "adam", "yogi")


@dataclass(frozen=True)
class ServerState:
    """A server optimizer's moments per tensor: `m` (first moment, or momentum) and `v`
    (second moment). Empty before the first round; a missing tensor counts as zeros."""

    m: Params = field(default_factory=dict)
    v: Params = field(default_factory=dict)

    def to_params(self) -> Params:
        """As named tensors ("m.<tensor>", "v.<tensor>"), to store as a blob."""
        m = {f"m.{k}": t for k, t in self.m.items()}
        return m | {f"v.{k}": t for k, t in self.v.items()}

    @classmethod
    def from_params(cls, tensors: Params) -> ServerState:
        moments: dict[str, Params] = {"m": {}, "v": {}}
        for key, tensor in tensors.items():
            kind, _, name = key.partition(".")
            if kind not in moments or not name:
                raise AggregationError(f"The server state holds an unknown tensor '{key}'.")
            moments[kind][name] = tensor
        return cls(moments["m"], moments["v"])


def _moment(moments: Params, name: str, like: np.ndarray) -> np.ndarray:
    found = moments.get(name)
    if found is None:
        return np.zeros(like.shape, np.float32)
    if found.shape != like.shape:
        raise AggregationError(
            f"The server state's '{name}' has shape {found.shape}, the model's {like.shape}."
        )
    return found


def sgd(
    state: ServerState, params: Params, delta: Params, *, learning_rate: float
) -> tuple[Params, ServerState]:
    return {k: (params[k] + learning_rate * delta[k]).astype(np.float32) for k in params}, state


def momentum(
    state: ServerState, params: Params, delta: Params, *, learning_rate: float, beta: float
) -> tuple[Params, ServerState]:
    out, m = {}, {}
    for k, x in params.items():
        d = delta[k].astype(np.float64)
        m_k = beta * _moment(state.m, k, d) + d
        out[k] = (x + learning_rate * m_k).astype(np.float32)
        m[k] = m_k.astype(np.float32)
    return out, ServerState({**state.m, **m}, state.v)


SecondMoment = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (v, delta) -> new v


def _adaptive(
    state: ServerState, params: Params, delta: Params, second: SecondMoment,
    learning_rate: float, beta1: float, tau: float,
) -> tuple[Params, ServerState]:  # fmt: skip
    out, m, v = {}, {}, {}
    for k, x in params.items():
        d = delta[k].astype(np.float64)
        m_k = beta1 * _moment(state.m, k, d) + (1 - beta1) * d
        v_k = second(_moment(state.v, k, d).astype(np.float64), d)
        out[k] = (x + learning_rate * m_k / (np.sqrt(v_k) + tau)).astype(np.float32)
        m[k], v[k] = m_k.astype(np.float32), v_k.astype(np.float32)
    return out, ServerState({**state.m, **m}, {**state.v, **v})


def adagrad(
    state: ServerState, params: Params, delta: Params, *,
    learning_rate: float, beta1: float, tau: float,
) -> tuple[Params, ServerState]:  # fmt: skip
    return _adaptive(state, params, delta, lambda v, d: v + d * d, learning_rate, beta1, tau)


def adam(
    state: ServerState, params: Params, delta: Params, *,
    learning_rate: float, beta1: float, beta2: float, tau: float,
) -> tuple[Params, ServerState]:  # fmt: skip
    def second(v: np.ndarray, d: np.ndarray) -> np.ndarray:
        return beta2 * v + (1 - beta2) * d * d

    return _adaptive(state, params, delta, second, learning_rate, beta1, tau)


def yogi(
    state: ServerState, params: Params, delta: Params, *,
    learning_rate: float, beta1: float, beta2: float, tau: float,
) -> tuple[Params, ServerState]:  # fmt: skip
    def second(v: np.ndarray, d: np.ndarray) -> np.ndarray:
        # v moves towards d^2 by at most (1 - b2) d^2 a round: no sudden jumps as in Adam
        return v - (1 - beta2) * d * d * np.sign(v - d * d)

    return _adaptive(state, params, delta, second, learning_rate, beta1, tau)


@dataclass(frozen=True)
class ServerOptimizer:
    """Which server optimizer, with its settings: `kind` is one of KINDS; for momentum,
    `beta1` is the momentum."""

    kind: str = "sgd"
    learning_rate: float = 1.0
    beta1: float = 0.9
    beta2: float = 0.99
    tau: float = 1e-9

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise AggregationError(
                f"Unknown server optimizer '{self.kind}'.", hint=f"Use one of {', '.join(KINDS)}."
            )

    def step(self, state: ServerState, params: Params, delta: Params) -> tuple[Params, ServerState]:
        lr, b1, b2, tau = self.learning_rate, self.beta1, self.beta2, self.tau
        if self.kind == "sgd":
            return sgd(state, params, delta, learning_rate=lr)
        if self.kind == "momentum":
            return momentum(state, params, delta, learning_rate=lr, beta=b1)
        if self.kind == "adagrad":
            return adagrad(state, params, delta, learning_rate=lr, beta1=b1, tau=tau)
        if self.kind == "adam":
            return adam(state, params, delta, learning_rate=lr, beta1=b1, beta2=b2, tau=tau)
        return yogi(state, params, delta, learning_rate=lr, beta1=b1, beta2=b2, tau=tau)
