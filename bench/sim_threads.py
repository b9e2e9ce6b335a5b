"""Where a second CPU thread starts to pay in dain.sim: the same federations run with one
thread and with two (PyTorch and numpy's BLAS alike), interleaved so that other work on
the machine hits both alike, median of 5 each. One JSON line per federation with its step
work (multiply-adds of one local step, all clients), then a summary line with the smallest
work at which two threads won by at least 10% and the largest at which they lost. The rule
in dain/sim/threads.py is read from these figures."""

from __future__ import annotations

import json
import statistics
import time

from dain.sim import SimConfig, build_federation, simulate
from dain.sim.threads import step_work

# (clients, hidden widths, batch size): from the default run up to wide two-layer models
GRID = [
    (100, (64,), 16), (10, (64,), 16), (1, (64,), 64), (100, (256,), 16), (10, (256,), 64),
    (4, (512, 512), 16), (1, (512, 512), 64), (30, (512, 512), 16), (100, (512, 512), 16),
    (1, (1024, 1024), 16), (4, (1024, 1024), 16), (1, (1024, 1024), 64),
    (10, (1024, 1024), 16), (30, (1024, 1024), 16), (4, (1024, 1024), 64),
]  # fmt: skip
RUNS = 5


def main() -> None:
    wins, losses = [], []
    for clients, hidden, batch in GRID:
        config = SimConfig("digits", hidden, clients, rounds=3, batch_size=batch)
        fed = build_federation(config)
        widths = [fed.x.shape[2], *hidden, fed.outputs]
        work = step_work(clients, min(batch, fed.y.shape[1]), widths)
        simulate(config, fed=fed, threads=1)  # first-call costs
        times: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(RUNS):
            for threads in (1, 2):
                began = time.perf_counter()
                simulate(config, fed=fed, threads=threads)
                times[threads].append(time.perf_counter() - began)
        one, two = statistics.median(times[1]), statistics.median(times[2])
        if two < 0.9 * one:
            wins.append(work)
        elif two > one:
            losses.append(work)
        print(json.dumps({
            "clients": clients, "hidden": list(hidden), "batch": batch, "step_work": work,
            "one_thread_s": round(one, 4), "two_threads_s": round(two, 4),
            "two_over_one": round(two / one, 2),
        }), flush=True)  # fmt: skip
    print(json.dumps({"smallest_winning_work": min(wins, default=None),
                      "largest_losing_work": max(losses, default=None)}))  # fmt: skip


if __name__ == "__main__":
    main()
