"""FedAvg aggregation cost: dain's vectorized weighted mean against a per-client loop
baseline on the same updates. Prints one JSON line."""

from __future__ import annotations

import json
import time

import numpy as np

from dain.learning import weighted_mean


def loop_baseline(
    updates: list[dict[str, np.ndarray]], weights: list[float]
) -> dict[str, np.ndarray]:
    total = sum(weights)
    out = {name: np.zeros_like(t) for name, t in updates[0].items()}
    for update, weight in zip(updates, weights, strict=True):
        for name, tensor in update.items():
            out[name] += tensor * (weight / total)
    return out


def best_of(fn, repeats: int = 5) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    clients, shapes = 100, {"0.weight": (256, 384), "0.bias": (256,), "2.weight": (10, 256)}
    updates = [
        {n: rng.standard_normal(s).astype(np.float32) for n, s in shapes.items()}
        for _ in range(clients)
    ]
    weights = rng.integers(10, 200, clients).astype(float).tolist()

    fast = weighted_mean(updates, weights)
    slow = loop_baseline(updates, weights)
    max_diff = max(float(np.abs(fast[n] - slow[n]).max()) for n in shapes)
    dain_s = best_of(lambda: weighted_mean(updates, weights))
    loop_s = best_of(lambda: loop_baseline(updates, weights))
    params = sum(int(np.prod(s)) for s in shapes.values())
    print(
        json.dumps(
            {
                "clients": clients,
                "params": params,
                "dain_s": round(dain_s, 5),
                "loop_s": round(loop_s, 5),
                "speedup": round(loop_s / dain_s, 2),
                "max_abs_diff": max_diff,
            }
        )
    )


if __name__ == "__main__":
    main()
