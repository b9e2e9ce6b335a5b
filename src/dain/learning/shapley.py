"""Shapley values of a game among n players whose coalitions are worth what a batched utility
says: `utility` takes a (coalitions x players) boolean matrix, one coalition per row, and
returns one worth per row. Batching is the point: a coalition's worth here is a sub-model
evaluated on a held-out split, and many small models evaluate at once far faster than one by
one (`dain.learning.valuation`).

- exact_shapley: every one of the 2^n coalitions, phi_i = sum over S without i of
  |S|! (n - |S| - 1)! / n! (v(S + i) - v(S)). For small n, and as the reference in tests.
- leave_one_out: phi_i = v(N) - v(N - i); n + 1 coalitions. Cheap, but players that can
  stand in for each other (owners of data from one distribution) all get about 0.
- gtg_shapley: GTG-Shapley (Liu et al. 2022, "GTG-Shapley: Efficient and Accurate
  Participant Contribution Evaluation in Federated Learning"): Monte-Carlo permutations,
  guided so that every player comes first equally often (the first position carries most
  of a FedAvg game's worth), truncated within a permutation once its coalition is worth
  within `truncation` x |v(N) - v(0)| of the grand coalition (the later players' marginals
  count as 0 without evaluating anything), and, if `round_truncation` is positive, truncated
  between rounds (all 0) when the whole round gained at most that. Each coalition is
  evaluated once (a cache).

Vectorized GTG: a block of guided cycles (each player first once per cycle, the rest in
random order) walks its permutations position by position in lockstep, so each position is
one batched call for every permutation still untruncated. The convergence test differs from
the paper's in one respect: the paper's error is a mean of |change| / |value| per player,
which never settles for a player worth ~0 (a null player, or a useless update), so it runs to
the cap; here the change is measured against the mean |value| of all players instead."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dain.learning.errors import LearningError

Utility = Callable[[np.ndarray], np.ndarray]  # (coalitions x players) bool -> (coalitions,)

EXACT_LIMIT = 20  # 2^20 coalitions: past this exact Shapley is not a sensible request


@dataclass(frozen=True)
class ShapleyEstimate:
    values: np.ndarray  # (players,) float64
    evaluations: int  # distinct coalitions whose worth was computed (empty and grand included)
    permutations: int  # permutations sampled (0 for the exact methods)
    worth_empty: float  # v(empty coalition)
    worth_all: float  # v(all players)


class _Worth:
    """Coalition worths, each computed once, in batches of at most `batch` coalitions."""

    def __init__(self, utility: Utility, players: int, batch: int) -> None:
        self._utility = utility
        self._players = players
        self._batch = max(1, batch)
        self._known: dict[bytes, float] = {}

    @property
    def evaluations(self) -> int:
        return len(self._known)

    def of(self, masks: np.ndarray) -> np.ndarray:
        keys = [row.tobytes() for row in np.packbits(masks, axis=1)]
        missing: dict[bytes, int] = {}
        for row, key in enumerate(keys):
            if key not in self._known and key not in missing:
                missing[key] = row
        rows = np.fromiter(missing.values(), dtype=np.int64, count=len(missing))
        for start in range(0, len(rows), self._batch):
            chunk = rows[start : start + self._batch]
            worths = np.asarray(self._utility(masks[chunk]), dtype=np.float64)
            if worths.shape != (len(chunk),) or not np.isfinite(worths).all():
                raise LearningError("A coalition's utility came out missing or not finite.")
            for row, worth in zip(chunk, worths, strict=True):
                self._known[keys[row]] = float(worth)
        return np.fromiter((self._known[k] for k in keys), dtype=np.float64, count=len(keys))


def exact_shapley(utility: Utility, players: int, *, batch: int = 256) -> ShapleyEstimate:
    if not 1 <= players <= EXACT_LIMIT:
        raise LearningError(f"Exact Shapley values take 1 to {EXACT_LIMIT} players, not {players}.")
    codes = np.arange(1 << players, dtype=np.int64)
    masks = ((codes[:, None] >> np.arange(players)) & 1).astype(bool)
    worth = _Worth(utility, players, batch)
    v = worth.of(masks)
    sizes = masks.sum(axis=1)
    # weight of a coalition of size s that player i joins: s! (n - s - 1)! / n!
    weight = np.array([math.factorial(s) * math.factorial(players - s - 1) / math.factorial(players)
                       for s in range(players)])  # fmt: skip
    values = np.empty(players)
    for i in range(players):
        without = codes[(codes >> i) & 1 == 0]
        values[i] = float(np.sum(weight[sizes[without]] * (v[without | (1 << i)] - v[without])))
    return ShapleyEstimate(values, worth.evaluations, 0, float(v[0]), float(v[-1]))


def leave_one_out(utility: Utility, players: int, *, batch: int = 256) -> ShapleyEstimate:
    if players < 1:
        raise LearningError("Leave-one-out needs at least one player.")
    masks = np.ones((players + 2, players), dtype=bool)
    masks[np.arange(players), np.arange(players)] = False  # row i: everyone but i
    masks[players + 1] = False  # the empty coalition, for the record
    worth = _Worth(utility, players, batch)
    v = worth.of(masks)
    return ShapleyEstimate(v[players] - v[:players], worth.evaluations, 0,
                           float(v[players + 1]), float(v[players]))  # fmt: skip


def gtg_shapley(
    utility: Utility,
    players: int,
    rng: np.random.Generator,
    *,
    truncation: float = 0.01,
    round_truncation: float = 0.0,
    tolerance: float = 0.05,
    min_permutations: int = 30,
    max_permutations: int = 2000,
    last_k: int = 10,
    batch: int = 256,
) -> ShapleyEstimate:
    """GTG-Shapley estimates (see the module's docstring). Sampling stops once at least
    max(`min_permutations`, players) permutations are in and, over the estimates after each
    of the last `last_k` permutations, the largest mean |change| against the latest estimate
    is at most `tolerance` x the latest mean |value|; or at `max_permutations`."""
    if players < 1:
        raise LearningError("GTG-Shapley needs at least one player.")
    worth = _Worth(utility, players, batch)
    v_empty, v_all = (float(v) for v in worth.of(np.array([[False] * players, [True] * players])))
    gain = abs(v_all - v_empty)
    if round_truncation > 0 and gain <= round_truncation:  # the round changed too little
        return ShapleyEstimate(np.zeros(players), worth.evaluations, 0, v_empty, v_all)
    eps = truncation * gain
    cycles = max(1, math.ceil(max(min_permutations, players) / players))
    total = np.zeros(players)
    done = 0
    while done < max_permutations:
        firsts = np.tile(np.arange(players), cycles)
        keys = rng.random((len(firsts), players))
        keys[np.arange(len(firsts)), firsts] = -1.0  # guided: this player comes first
        marginals = _walk(worth, np.argsort(keys, axis=1), v_empty, v_all, eps)
        running = (total + np.cumsum(marginals, axis=0)) / (done + np.arange(1, len(firsts) + 1))[
            :, None
        ]
        total += marginals.sum(axis=0)
        done += len(firsts)
        cycles = 1  # after the first block, one cycle at a time
        if done >= max(min_permutations, players) and _settled(running, last_k, tolerance):
            break
    return ShapleyEstimate(total / done, worth.evaluations, done, v_empty, v_all)


def _walk(
    worth: _Worth, orders: np.ndarray, v_empty: float, v_all: float, eps: float
) -> np.ndarray:
    """Every permutation's marginal contributions, position by position, truncated."""
    count, players = orders.shape
    rows = np.arange(count)
    members = np.zeros((count, players), dtype=bool)
    previous = np.full(count, v_empty)
    marginals = np.zeros((count, players))
    live = np.ones(count, dtype=bool)
    for position in range(players):
        joining = orders[:, position]
        members[rows, joining] = True
        live &= np.abs(v_all - previous) >= eps  # close enough to v(N): the rest add nothing
        current = previous.copy()
        if live.any():
            current[live] = worth.of(members[live])
        marginals[rows, joining] = current - previous
        previous = current
    return marginals


def _settled(running: np.ndarray, last_k: int, tolerance: float) -> bool:
    recent = running[-last_k:]
    latest = recent[-1]
    scale = float(np.mean(np.abs(latest)))
    if scale == 0.0:
        return True
    change = np.mean(np.abs(recent - latest), axis=1).max()
    return bool(change <= tolerance * scale)
