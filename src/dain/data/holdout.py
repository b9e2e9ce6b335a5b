"""The rows of a data asset its node never trains on: its held-out split, on which the node
scores each round's model (federated evaluation) and, when elected aggregator, values the
other participants' updates.

The split is a pure function of the labels and a seed. A node seeds it from the asset's id,
which commits to the asset's rows and salt, so the same rows are held out at every start
and in every job, and no model the asset helped train has seen them.

- HELD_OUT_FRACTION of the rows, rounded down (an asset of four rows holds none out), and
  at most MAX_HELD_OUT.
- Stratified for a classification task: each class in proportion (largest remainders), and
  every class with two rows or more keeps at least one row on each side when the held-out
  rows are enough for that; so a rare class (fraud) can be scored at all.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

HELD_OUT_FRACTION = 0.2
# scoring is one forward pass; past a few thousand rows a score's standard error (under
# 0.7 points for accuracy at 5,000) is smaller than what one more round changes
MAX_HELD_OUT = 5_000


def held_out_count(rows: int) -> int:
    return min(MAX_HELD_OUT, math.floor(HELD_OUT_FRACTION * rows))


def holdout_seed(asset_id: int) -> int:
    """The split's seed for an asset, from its id alone: stable across restarts."""
    digest = hashlib.sha256(f"dain-holdout/{asset_id:064x}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def holdout_split(
    y: np.ndarray, seed: int, *, stratify: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted row indices (training, held out) of rows with labels `y`; `stratify` only
    for class labels."""
    n = len(y)
    wanted = held_out_count(n)
    order = np.random.default_rng(seed).permutation(n)
    held = _stratified(y, order, wanted) if stratify and wanted else order[:wanted]
    mask = np.zeros(n, dtype=bool)
    mask[held] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def _stratified(y: np.ndarray, order: np.ndarray, wanted: int) -> np.ndarray:
    """The first `wanted` rows of `order` class by class, in proportion to each class."""
    _, inverse, counts = np.unique(y[order], return_inverse=True, return_counts=True)
    quota = _apportion(counts, wanted)
    # each row's place among the rows of its class, in the shuffled order
    by_class = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    place = np.empty(len(order), dtype=np.int64)
    place[by_class] = np.arange(len(order)) - np.repeat(starts, counts)
    return order[place < quota[inverse]]


def _apportion(counts: np.ndarray, wanted: int) -> np.ndarray:
    """Shares of `wanted` in proportion to `counts` (largest remainders, ties to the
    smaller class index); then each class of two rows or more gets at least one, taken
    from the largest shares, when there are enough to go round."""
    exact = counts * wanted / counts.sum()
    quota = np.floor(exact).astype(np.int64)
    short = wanted - int(quota.sum())
    quota[np.argsort(-(exact - quota), kind="stable")[:short]] += 1
    kept = counts >= 2  # classes owed a held-out row
    if int(kept.sum()) <= wanted:
        for c in np.flatnonzero(kept & (quota == 0)):  # a loop over classes, never rows
            # the donor has a row to spare: more than the one it is owed itself
            quota[int(np.argmax(quota - kept))] -= 1
            quota[c] = 1
    return quota
