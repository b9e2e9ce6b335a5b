"""Server optimizers: first steps by hand, the same numbers as before they became pure
functions, and their state as a value that travels as tensors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dain.learning import AggregationError, ServerOptimizer, ServerState
from dain.learning.optimizers import KINDS, adam, momentum, sgd

RECORDED = json.loads((Path(__file__).parent / "recorded_values.json").read_text())
X0 = {"w": np.array([[0.5, -1.25], [2.0, 0.0]], np.float32),
      "b": np.array([0.1, -0.3], np.float32)}  # fmt: skip
DELTAS = [
    {"w": np.array([[0.2, -0.1], [0.05, 0.3]], np.float32),
     "b": np.array([-0.4, 0.25], np.float32)},
    {"w": np.array([[-0.15, 0.2], [0.05, -0.6]], np.float32),
     "b": np.array([0.1, 0.0], np.float32)},
    {"w": np.array([[0.3, 0.3], [-0.2, 0.1]], np.float32),
     "b": np.array([-0.05, 0.7], np.float32)},
]  # fmt: skip
SETTINGS = {
    "sgd": ServerOptimizer("sgd", 0.5),
    "momentum": ServerOptimizer("momentum", 1.0, beta1=0.9),
    "adagrad": ServerOptimizer("adagrad", 0.1, beta1=0.9, tau=1e-3),
    "adam": ServerOptimizer("adam", 0.1, beta1=0.9, beta2=0.99, tau=1e-3),
    "yogi": ServerOptimizer("yogi", 0.1, beta1=0.9, beta2=0.99, tau=1e-3),
}
ZERO = {"w": np.zeros(2, np.float32)}
D = {"w": np.array([2.0, -1.0], np.float32)}


def test_sgd_and_momentum_by_hand() -> None:
    moved, state = sgd(ServerState(), ZERO, D, learning_rate=0.5)
    np.testing.assert_array_equal(moved["w"], [1.0, -0.5])
    assert state == ServerState()
    first, state = momentum(ServerState(), ZERO, D, learning_rate=1.0, beta=0.5)
    second, state = momentum(state, first, D, learning_rate=1.0, beta=0.5)
    np.testing.assert_allclose(first["w"], [2, -1])  # m = d
    np.testing.assert_allclose(second["w"], [2 + 3, -1 - 1.5])  # m = 0.5 d + d
    np.testing.assert_allclose(state.m["w"], [3, -1.5])


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        # m = 0.1 d, v = d^2 (adagrad) / 0.01 d^2 (adam) / 0.01 d^2 (yogi, v0 = 0);
        # step = lr m / (sqrt(v) + tau), lr = 0.1, tau = 1e-3, d = (2, -1)
        ("adagrad", [0.1 * 0.2 / (2 + 1e-3), 0.1 * -0.1 / (1 + 1e-3)]),
        ("adam", [0.1 * 0.2 / (0.2 + 1e-3), 0.1 * -0.1 / (0.1 + 1e-3)]),
        ("yogi", [0.1 * 0.2 / (0.2 + 1e-3), 0.1 * -0.1 / (0.1 + 1e-3)]),
    ],
)
def test_adaptive_optimizers_take_their_first_step(kind: str, expected: list[float]) -> None:
    optimizer = ServerOptimizer(kind, 0.1, beta1=0.9, beta2=0.99, tau=1e-3)
    moved, state = optimizer.step(ServerState(), ZERO, D)
    np.testing.assert_allclose(moved["w"], expected, rtol=1e-5)
    np.testing.assert_allclose(state.m["w"], [0.2, -0.1], rtol=1e-6)


def test_yogi_moves_its_second_moment_by_the_update_alone() -> None:
    # v = 1, d^2 = 4: Adam's v becomes 0.99 x 1 + 0.01 x 4 = 1.03; Yogi's moves towards
    # d^2 by 0.01 x 4 = 0.04, whatever v was
    state = ServerState({"w": np.zeros(2, np.float32)}, {"w": np.ones(2, np.float32)})
    optimizer = {k: ServerOptimizer(k, 0.1, beta1=0.9, beta2=0.99, tau=1e-3) for k in KINDS}
    _, yogi_state = optimizer["yogi"].step(state, ZERO, {"w": np.full(2, 2.0, np.float32)})
    _, adam_state = optimizer["adam"].step(state, ZERO, {"w": np.full(2, 2.0, np.float32)})
    np.testing.assert_allclose(yogi_state.v["w"], [1.04, 1.04], rtol=1e-6)
    np.testing.assert_allclose(adam_state.v["w"], [1.03, 1.03], rtol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_the_same_numbers_as_the_stateful_optimizer_they_replace(kind: str) -> None:
    # recorded from ServerOptimizer.step at f3860a6, when the optimizer kept its own state
    recorded = RECORDED["server_optimizers"][kind]
    params, state = X0, ServerState()
    for delta, expected in zip(DELTAS, recorded["params"], strict=True):
        params, state = SETTINGS[kind].step(state, params, delta)
        # the state crosses to the next aggregator as tensors every round
        state = ServerState.from_params(state.to_params())
        for name, value in expected.items():
            np.testing.assert_array_equal(params[name], np.asarray(value, np.float32))
    tensors = state.to_params()
    assert sorted(tensors) == sorted(recorded["state"])
    for name, value in recorded["state"].items():
        assert tensors[name].dtype == np.float32
        np.testing.assert_array_equal(tensors[name], np.asarray(value, np.float32))


@settings(max_examples=30, deadline=None)
@given(
    delta=arrays(np.float32, 3, elements=st.floats(-10, 10, width=32)),
    kind=st.sampled_from(KINDS),
)
def test_a_step_leaves_its_inputs_alone_and_repeats_exactly(delta: np.ndarray, kind: str) -> None:
    optimizer = ServerOptimizer(kind, 0.1, tau=1e-3)
    params = {"w": np.ones(3, np.float32)}
    state = ServerState({"w": np.full(3, 0.5, np.float32)}, {"w": np.full(3, 0.25, np.float32)})
    before = state.to_params()
    a = optimizer.step(state, params, {"w": delta})
    b = optimizer.step(state, params, {"w": delta})
    assert all(np.array_equal(before[k], v) for k, v in state.to_params().items())
    np.testing.assert_array_equal(params["w"], np.ones(3))
    np.testing.assert_array_equal(a[0]["w"], b[0]["w"])
    assert all(v.dtype == np.float32 for v in a[1].to_params().values())


def test_state_round_trips_through_tensors_and_refuses_strangers() -> None:
    _, state = adam(ServerState(), X0, DELTAS[0], learning_rate=0.1, beta1=0.9, beta2=0.99,
                    tau=1e-3)  # fmt: skip
    assert sorted(state.to_params()) == ["m.b", "m.w", "v.b", "v.w"]
    again = ServerState.from_params(state.to_params())
    assert all(np.array_equal(again.m[k], state.m[k]) for k in state.m)
    with pytest.raises(AggregationError, match=r"unknown tensor 'x\.w'"):
        ServerState.from_params({"x.w": np.zeros(2, np.float32)})
    wrong = ServerState({"w": np.zeros(5, np.float32)})
    with pytest.raises(AggregationError, match="shape"):
        SETTINGS["momentum"].step(wrong, X0, DELTAS[0])
    with pytest.raises(AggregationError, match="Unknown server optimizer"):
        ServerOptimizer("rmsprop")
