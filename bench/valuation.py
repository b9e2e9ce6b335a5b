"""Paying for what data was worth: shares by contribution value against shares by examples.

Digits (80/20 stratified split; the 20% scores the final model and gives the requester's
feature statistics), ten owners: seven clean, one holding a copy of clean owner 0's rows
(its held-out split too), one with every label flipped (c -> 9 - c), one with Gaussian noise
on every feature (`noise` x the feature's own standard deviation; at 3, a model trained on
that owner's rows alone reaches 0.53-0.59 test accuracy, a clean owner's 0.88). Each owner
holds back a quarter of its rows as its held-out split; the flipped and noisy owners' splits
are as bad as the rest of their data. An MLP 64 trains with FedAvg as the node does
(`local_update`, SGD lr 0.05, batch 16, one epoch a round, 20 rounds). Each round's
aggregator is elected by a hash of (seed, round), as the Jobs contract elects; it values every
other owner's update by GTG-Shapley on its own held-out split (`value_updates`, never its
own update) and records the values as the contract would (`encode_round`). Shares by value
are examples x quality (`shares_by_value`); the baseline in the same run is shares by
examples. The same rounds are then recorded again with one liar: the clean owner elected
most often records the maximum value for its accomplice (the noisy owner) and the minimum
for everyone else, in every round it aggregates.

Also measured: the valuation's cost per round at 10 and 50 participants (one round of
updates from a fresh model, an aggregator-sized held-out split of 36 rows) for GTG, exact
Shapley and leave-one-out; GTG's error against exact Shapley on this bench's rounds; and the
checks over five seeds and four noise levels.

Ends with one JSON line with shares_by_examples, shares_by_value (per owner, with its kind,
quality and value: the median over judges of their mean recorded value, 1000 a typical
update), max_honest_shift_by_liar (percentage points of the pool) and checks. Targets:
the flipped and the noisy owner each get at most half the mean clean share by value; the
liar shifts no honest owner's share by more than 5 points. PyTorch runs on one thread
(FACTS.md: small batched matmuls run 3-5x faster on one than on two)."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch

from dain.data import load_bundled, partition_stratified, stratified_split
from dain.incentives import (
    VALUE_MAX,
    VALUE_MIN,
    ValuedReceipt,
    contribution_weights,
    encode_round,
    quality,
    shares_by_value,
    to_basis_points,
)
from dain.learning import (
    ModelSpec,
    PrivacySpec,
    ServerState,
    TrainConfig,
    ValuationConfig,
    accuracy,
    feature_statistics,
    flip_labels,
    init_params,
    local_update,
    make_strategy,
    train_local,
    value_updates,
    warm_up,
)

KINDS = ("clean",) * 7 + ("duplicate", "flipped", "noisy")
ORIGINAL = 0  # the clean owner whose rows the duplicate holds
ACCOMPLICE = KINDS.index("noisy")


@dataclass(frozen=True)
class Settings:
    rounds: int = 20
    hidden: tuple[int, ...] = (64,)
    learning_rate: float = 0.05
    batch_size: int = 16
    held_out: float = 0.25  # of each owner's rows, for valuing when it aggregates
    noise: float = 3.0  # the noisy owner's feature noise, in each feature's standard deviations
    seed: int = 0
    method: str = "gtg"
    compare_exact: bool = True  # GTG against exact Shapley on every round
    cost_sizes: tuple[int, ...] = (10, 50)  # participants in the cost measurement
    sweep_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    sweep_noise: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0)


@dataclass(frozen=True)
class Owner:
    kind: str
    x: np.ndarray
    y: np.ndarray
    held_x: np.ndarray
    held_y: np.ndarray


@dataclass
class Run:
    receipts: list[ValuedReceipt] = field(default_factory=list)  # asset id = owner; honest
    aggregators: list[int] = field(default_factory=list)
    accuracy: float = 0.0
    seconds_valuing: float = 0.0
    gtg_errors: list[float] = field(default_factory=list)
    cosines: list[tuple[float, float]] = field(default_factory=list)  # (copy, clean pairs)


def digits(seed: int, hidden: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, ModelSpec, tuple]:
    """Training rows, and the model spec and test split a requester publishes."""
    data = load_bundled("digits")
    train_rows, test_rows = stratified_split(data.y, 0.2, seed)
    mean, scale = feature_statistics(data.x[test_rows])
    spec = ModelSpec("mlp", data.num_features, 10, hidden, mean, scale)
    return data.x[train_rows], data.y[train_rows], spec, (data.x[test_rows], data.y[test_rows])


def owners(settings: Settings) -> tuple[list[Owner], ModelSpec, tuple]:
    x, y, spec, test = digits(settings.seed, settings.hidden)
    distinct = [k for k in KINDS if k != "duplicate"]  # the copy brings no rows of its own
    parts = iter(partition_stratified(y, np.full(len(distinct), 1 / len(distinct)),
                                      settings.seed))  # fmt: skip
    noise = np.random.default_rng(settings.seed + 1)
    made: list[Owner] = []
    for owner, kind in enumerate(KINDS):
        if kind == "duplicate":
            made.append(replace(made[ORIGINAL], kind=kind))  # the same rows, the same split
            continue
        rows = np.random.default_rng(settings.seed + 10 + owner).permutation(next(parts))
        ox, oy = x[rows], y[rows]
        if kind == "flipped":
            oy = flip_labels(oy, 10)
        if kind == "noisy":
            ox = ox + noise.normal(0, 1, ox.shape).astype(np.float32) * settings.noise * x.std(0)
        cut = round(len(rows) * settings.held_out)
        made.append(Owner(kind, ox[cut:], oy[cut:], ox[:cut], oy[:cut]))
    return made, spec, test


def elected(seed: int, round_no: int, candidates: int) -> int:
    """The round's aggregator: a hash of (seed, round) modulo the candidates, as the Jobs
    contract picks among the enrolled (keccak there, sha256 here: any fair hash will do)."""
    digest = hashlib.sha256(f"{seed}:{round_no}".encode()).digest()
    return int.from_bytes(digest, "big") % candidates


def train(settings: Settings, team: list[Owner], spec: ModelSpec, test: tuple) -> Run:
    strategy = make_strategy("fedavg")
    params, state = init_params(spec, settings.seed), ServerState()
    config = TrainConfig(settings.learning_rate, 1, settings.batch_size)
    rng = np.random.default_rng(settings.seed + 2)
    run = Run()
    for round_no in range(1, settings.rounds + 1):
        updates = [
            local_update(spec, params, o.x, o.y, config, PrivacySpec(),
                         seed=settings.seed * 1_000_003 + round_no * 101 + owner)
            for owner, o in enumerate(team)
        ]  # fmt: skip
        chosen = elected(settings.seed, round_no, len(team))
        judge = (spec, params, updates, team[chosen], chosen, rng)
        began = time.perf_counter()
        values = _values(*judge, settings.method)
        run.seconds_valuing += time.perf_counter() - began
        if settings.compare_exact:
            run.gtg_errors.append(_relative_error(values, _values(*judge, "exact")))
        recorded = encode_round(values)
        run.aggregators.append(chosen)
        run.receipts += [ValuedReceipt(o, u.num_examples, chosen, recorded.get(o))
                         for o, u in enumerate(updates)]  # fmt: skip
        run.cosines.append(_cosines(updates))
        params, state = strategy.aggregate(state, params, updates)
    run.accuracy = accuracy(spec, params, *test)
    return run


def _values(
    spec: ModelSpec, params: dict, updates: list, judge: Owner, chosen: int,
    rng: np.random.Generator, method: str,
) -> dict[int, float]:  # fmt: skip
    """The values the aggregator `chosen` finds on its held-out split, its own left out."""
    config = ValuationConfig(method=method)
    return value_updates(spec, params, updates, judge.held_x, judge.held_y, rng=rng,
                         exclude=[chosen], config=config).values  # fmt: skip


def _cosines(updates: list) -> tuple[float, float]:
    """Cosine of the duplicate's update with the original's, and the mean over clean pairs."""
    rows = np.stack([np.concatenate([u.delta[k].ravel() for k in sorted(u.delta)])
                     for u in updates])  # fmt: skip
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    similar = rows @ rows.T
    clean = [o for o, kind in enumerate(KINDS) if kind == "clean"]
    pairs = [similar[a, b] for a in clean for b in clean if a < b]
    return float(similar[ORIGINAL, KINDS.index("duplicate")]), float(np.mean(pairs))


def _relative_error(estimate: dict[int, float], exact: dict[int, float]) -> float:
    """Mean |estimate - exact| over the players, against their mean |exact value|."""
    scale = float(np.mean(np.abs(list(exact.values())))) or 1.0
    return float(np.mean([abs(estimate[k] - exact[k]) for k in exact])) / scale


def lied(receipts: list[ValuedReceipt], liar: int, accomplice: int) -> list[ValuedReceipt]:
    """The same receipts, with the liar's rounds recording the extremes."""
    return [
        r._replace(value=VALUE_MAX if r.asset == accomplice else VALUE_MIN)
        if r.aggregator == liar and r.value is not None else r
        for r in receipts
    ]  # fmt: skip


def judged(receipts: list[ValuedReceipt], asset: int) -> dict[int, list[int]]:
    """The values recorded for `asset`, by the aggregator that recorded them."""
    by: dict[int, list[int]] = {}
    for r in receipts:
        if r.asset == asset and r.value is not None:
            by.setdefault(r.aggregator, []).append(r.value)
    return by


def table(shares: dict[int, int], receipts: list[ValuedReceipt] | None = None) -> list[dict]:
    rows = []
    for owner in sorted(shares):
        row: dict = {"owner": owner, "kind": KINDS[owner], "bps": shares[owner]}
        if receipts is not None:
            by_judge = judged(receipts, owner)
            row["quality"] = quality(by_judge)
            means = sorted(sum(v) // len(v) for v in by_judge.values())
            row["value"] = means[(len(means) - 1) // 2] if means else None  # before credit
        rows.append(row)
    return rows


def run(settings: Settings) -> dict:
    """The bench's main run: shares by examples and by value, honest and with a liar."""
    team, spec, test = owners(settings)
    trained = train(settings, team, spec, test)
    by_examples = to_basis_points(
        contribution_weights((r.asset, r.examples) for r in trained.receipts)
    )
    by_value = shares_by_value(trained.receipts)
    clean = [o for o, kind in enumerate(KINDS) if kind == "clean"]
    liar = max(clean, key=lambda o: (trained.aggregators.count(o), -o))
    lying = shares_by_value(lied(trained.receipts, liar, ACCOMPLICE))
    honest = [o for o in range(len(KINDS)) if o not in (liar, ACCOMPLICE)]
    shift = max(abs(lying[o] - by_value[o]) for o in honest) / 100
    mean_clean = float(np.mean([by_value[o] for o in clean]))
    checks = {
        "flipped_at_most_half_clean": by_value[KINDS.index("flipped")] <= mean_clean / 2,
        "noisy_at_most_half_clean": by_value[KINDS.index("noisy")] <= mean_clean / 2,
        "liar_shifts_honest_at_most_5_points": shift <= 5.0,
    }
    return {
        "shares_by_examples": table(by_examples),
        "shares_by_value": table(by_value, trained.receipts),
        "max_honest_shift_by_liar": shift,
        "checks": checks,
        "met": all(checks.values()),
        "mean_clean_bps_by_value": round(mean_clean, 1),
        "liar": {
            "owner": liar,
            "accomplice": ACCOMPLICE,
            "rounds_aggregated": trained.aggregators.count(liar),
            "shares_by_value": table(lying),
        },
        "aggregators": trained.aggregators,
        "final_test_accuracy": round(trained.accuracy, 4),
        "valuation_seconds_per_round": round(trained.seconds_valuing / settings.rounds, 4),
        "gtg_vs_exact_relative_error": (
            round(float(np.mean(trained.gtg_errors)), 4) if trained.gtg_errors else None
        ),
        "update_cosine": {
            "duplicate_with_original": round(float(np.mean([c for c, _ in trained.cosines])), 3),
            "clean_pairs": round(float(np.mean([c for _, c in trained.cosines])), 3),
        },
    }


def cost(settings: Settings, participants: int, method: str) -> dict:
    """One valuation of a first round's updates from `participants` owners of digits, by an
    aggregator that is one of them (so participants - 1 are valued)."""
    x, y, spec, test = digits(settings.seed, settings.hidden)
    parts = partition_stratified(y, np.full(participants, 1 / participants), settings.seed)
    params = init_params(spec, settings.seed)
    config = TrainConfig(settings.learning_rate, 1, settings.batch_size)
    updates = [local_update(spec, params, x[p], y[p], config, PrivacySpec(), seed=i)
               for i, p in enumerate(parts)]  # fmt: skip
    held_x, held_y = test[0][:36], test[1][:36]
    began = time.perf_counter()
    valuation = value_updates(spec, params, updates, held_x, held_y,
                              rng=np.random.default_rng(0), exclude=[0],
                              config=ValuationConfig(method=method))  # fmt: skip
    return {"participants": participants, "method": method,
            "seconds": round(time.perf_counter() - began, 4),
            "evaluations": valuation.evaluations,
            "permutations": valuation.permutations}  # fmt: skip


def alone(settings: Settings) -> dict[str, float]:
    """Test accuracy of a model trained on one owner's rows alone (20 epochs): how bad the
    noisy owner's data is, next to a clean owner's."""
    team, spec, test = owners(settings)
    out = {}
    for kind in ("clean", "noisy"):
        owner = team[KINDS.index(kind)]
        config = TrainConfig(settings.learning_rate, 20, settings.batch_size)
        trained = train_local(spec, init_params(spec, settings.seed), owner.x, owner.y, config, 0)
        out[kind] = round(accuracy(spec, trained.params, *test), 4)
    return out


def sweep(settings: Settings) -> list[dict]:
    """The checks over seeds, at each noise level."""
    rows = []
    for noise in settings.sweep_noise:
        ratios, shifts, met = [], [], []
        for seed in settings.sweep_seeds:
            quick = replace(settings, seed=seed, noise=noise, compare_exact=False)
            result = run(quick)
            by_value = {r["owner"]: r["bps"] for r in result["shares_by_value"]}
            ratios.append(by_value[ACCOMPLICE] / result["mean_clean_bps_by_value"])
            shifts.append(result["max_honest_shift_by_liar"])
            met.append(result["met"])
        alone_accuracy = alone(replace(settings, noise=noise))["noisy"]
        rows.append({"noise": noise, "noisy_alone_accuracy": alone_accuracy,
                     "noisy_over_mean_clean": [round(r, 3) for r in ratios],
                     "max_honest_shift_by_liar": max(shifts), "met": sum(met),
                     "seeds": len(settings.sweep_seeds)})  # fmt: skip
    return rows


def main() -> None:
    torch.set_num_threads(1)
    warm_up()
    began = time.perf_counter()
    settings = Settings()
    result = run(settings)
    for row in result["shares_by_value"]:
        print(f"{row['owner']} {row['kind']:9} {row['bps']:5} bps  quality {row['quality']:3}  "
              f"value {row['value']}", file=sys.stderr)  # fmt: skip
    result["alone_accuracy"] = alone(settings)
    result["cost"] = [cost(settings, n, "gtg") for n in settings.cost_sizes]
    result["cost"] += [cost(settings, 10, "exact")] + [cost(settings, n, "loo")
                                                        for n in settings.cost_sizes]  # fmt: skip
    result["sweep"] = sweep(settings)
    result["settings"] = asdict(settings)
    result["seconds"] = round(time.perf_counter() - began, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
