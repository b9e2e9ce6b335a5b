"""The simulator picks its thread count from the size of its work and gives the caller's
thread settings back."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

from dain.sim import SimConfig, build_federation, simulate
from dain.sim.threads import PARALLEL_WORK, compute_threads, step_work, threads_for


def blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


@pytest.fixture
def two_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_step_work_counts_multiply_adds_of_every_layer() -> None:
    # 3 clients, 4 rows a step, 64 -> 8 -> 10: 3 * 4 * (64 * 8 + 8 * 10)
    assert step_work(3, 4, [64, 8, 10]) == 3 * 4 * 592


def test_small_work_gets_one_thread_and_large_work_more() -> None:
    assert threads_for(PARALLEL_WORK - 1) == 1
    assert threads_for(PARALLEL_WORK) >= 1
    assert threads_for(10 * PARALLEL_WORK) == threads_for(PARALLEL_WORK)


@pytest.mark.usefixtures("two_threads")
def test_the_default_simulation_runs_on_one_thread_and_restores_the_callers() -> None:
    blas_before = blas_threads()
    inside: list[int] = []
    config = SimConfig(rounds=2)

    simulate(config, lambda *_: inside.append(torch.get_num_threads()))

    assert inside == [1, 1]
    assert torch.get_num_threads() == 2
    assert blas_threads() == blas_before


@pytest.mark.usefixtures("two_threads")
def test_threads_are_restored_when_a_run_fails() -> None:
    blas_before = blas_threads()

    with pytest.raises(RuntimeError), compute_threads(1):
        assert torch.get_num_threads() == 1
        assert set(blas_threads()) == {1}
        raise RuntimeError("a failing round")

    assert torch.get_num_threads() == 2
    assert blas_threads() == blas_before


def test_the_thread_count_does_not_change_what_is_learned() -> None:
    config = SimConfig("wine", (8,), clients=6, rounds=2)
    fed = build_federation(config)

    one = simulate(config, fed=fed, threads=1)
    two = simulate(config, fed=fed, threads=2)

    assert one.accuracy == two.accuracy
    for name, value in one.params.items():
        np.testing.assert_allclose(two.params[name], value, rtol=1e-5, atol=1e-6)
