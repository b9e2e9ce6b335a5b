"""How many CPU threads a simulation uses, chosen from the size of its work.

A simulated round is many small batched matrix products and a few numpy reductions over
the clients' updates. Threads pay only when each product is large: below that, every
parallel region waits for its slowest thread, and on a machine shared with other work
one descheduled thread stalls the whole step. numpy's BLAS (OpenBLAS) keeps a thread pool
of its own with the same problem: with two threads, the one matrix-vector product that
averages the default run's updates took about 4 ms instead of 0.01 ms: half the run.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

# Measured with bench/sim_threads.py on this 2-core machine (digits, 3 rounds, medians of
# 5 runs with 1 and 2 threads interleaved; three runs, each while other engineers' tests
# were running, the usual state here). Two threads' time over one thread's, run by run:
#   step work  federation                              two threads / one
#   0.8 M      10 clients, MLP 64                      1.34  1.34  37
#   7 M        100 clients, MLP 64 (the default)       2.2   2.3   38
#   18 M       1 client, MLP 1024-1024                 5.6   9.6   8.6
#   28 M       100 clients, MLP 256                    1.7   4.4   8.3
#   72 M       4 clients, MLP 1024-1024                3.1   -     0.68
#   144 M      30 clients, MLP 512-512                 3.7   0.95  5.3
#   180 M      10 clients, MLP 1024-1024               0.68  -     2.0
#   288 M      4 clients, MLP 1024-1024, batch 64      0.84  -     0.70
#   450 M      100 clients, MLP 512-512                2.4   0.73  0.78
#   540 M      30 clients, MLP 1024-1024               0.64  -     0.64
# Below about 250 M a second thread lost in some run at every size, up to 38x when another
# process held the other core; from there on it won in 5 runs of 6, by up to 1.6x.
PARALLEL_WORK = 250_000_000  # multiply-adds per local step from which more threads pay


def step_work(clients: int, rows_per_step: int, widths: list[int]) -> int:
    """Multiply-adds of one forward pass of one local step, all clients together."""
    return clients * rows_per_step * sum(a * b for a, b in itertools.pairwise(widths))


def threads_for(work: int) -> int:
    """One thread for small work; every core this process may use for large work."""
    if work < PARALLEL_WORK:
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextmanager
def compute_threads(threads: int) -> Iterator[None]:
    """PyTorch's and numpy's BLAS thread pools limited to `threads` for the block; the
    caller's settings come back afterwards."""
    from threadpoolctl import threadpool_limits  # a light scikit-learn dependency

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(before)
