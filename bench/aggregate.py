"""FedAvg aggregation cost: what the strategies run (stack the updates into one matrix,
the weighted mean, unstack) against a per-client loop baseline on the same updates, and
the same for the coordinate-wise median against a per-tensor loop. Prints one JSON line."""

from __future__ import annotations

import json
import time

import numpy as np

from dain.learning import ClientUpdate, Params, make_strategy, stack


def loop_mean(updates: list[Params], weights: list[float]) -> Params:
    total = sum(weights)
    out = {name: np.zeros_like(t) for name, t in updates[0].items()}
    for update, weight in zip(updates, weights, strict=True):
        for name, tensor in update.items():
            out[name] += tensor * (weight / total)
    return out


def loop_median(updates: list[Params]) -> Params:
    return {name: np.median([u[name] for u in updates], axis=0) for name in updates[0]}


def best_of(fn, repeats: int = 5) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def max_diff(a: Params, b: Params) -> float:
    return max(float(np.abs(a[n] - b[n]).max()) for n in a)


def main() -> None:
    rng = np.random.default_rng(0)
    clients, shapes = 100, {"0.weight": (256, 384), "0.bias": (256,), "2.weight": (10, 256)}
    updates = [
        {n: rng.standard_normal(s).astype(np.float32) for n, s in shapes.items()}
        for _ in range(clients)
    ]
    weights = rng.integers(10, 200, clients).astype(float).tolist()
    client_updates = [ClientUpdate(u, int(w)) for u, w in zip(updates, weights, strict=True)]
    fedavg, median = make_strategy("fedavg"), make_strategy("fedmedian")

    fedavg_s = best_of(lambda: fedavg.combine(client_updates))
    loop_s = best_of(lambda: loop_mean(updates, weights))
    median_s = best_of(lambda: median.combine(client_updates), 3)
    loop_median_s = best_of(lambda: loop_median(updates), 3)
    print(json.dumps({
        "clients": clients,
        "params": sum(int(np.prod(s)) for s in shapes.values()),
        "fedavg_s": round(fedavg_s, 5),
        "loop_s": round(loop_s, 5),
        "speedup": round(loop_s / fedavg_s, 2),
        "stack_s": round(best_of(lambda: stack(updates)), 5),
        "max_abs_diff": max_diff(fedavg.combine(client_updates), loop_mean(updates, weights)),
        "median_s": round(median_s, 5),
        "loop_median_s": round(loop_median_s, 5),
        "median_speedup": round(loop_median_s / median_s, 2),
        "median_max_abs_diff": max_diff(median.combine(client_updates), loop_median(updates)),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
