"""Splitting one dataset among owners, and into train and test parts."""

from __future__ import annotations

import math

import numpy as np

from dain.data.errors import PartitionError


def stratified_split(
    y: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, test) with each class in the same proportion in both: the split
    scikit-learn's `train_test_split(..., stratify=y, random_state=seed)` makes, drawn from
    the same random stream, without importing scikit-learn and scipy (about 0.5 s)."""
    if not 0.0 < test_fraction < 1.0:
        raise PartitionError(f"test fraction must be between 0 and 1, got {test_fraction}.")
    n_test = math.ceil(test_fraction * len(y))
    n_train = len(y) - n_test
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    if counts.min() < 2:
        raise PartitionError(
            f"classes {classes[counts < 2].tolist()} have one row only; a stratified split "
            "needs at least two of every class."
        )
    if min(n_train, n_test) < len(classes):
        raise PartitionError(
            f"{len(y)} rows split {1 - test_fraction:g}/{test_fraction:g} cannot hold all "
            f"{len(classes)} classes on both sides."
        )
    by_class = np.split(np.argsort(inverse, kind="stable"), np.cumsum(counts)[:-1])
    rng = np.random.RandomState(seed)  # scikit-learn's generator, for the same draws
    train_counts = _approximate_mode(counts, n_train, rng)
    test_counts = _approximate_mode(counts - train_counts, n_test, rng)
    train, test = [], []
    for rows, n_i, t_i in zip(by_class, train_counts, test_counts, strict=True):
        shuffled = rows[rng.permutation(len(rows))]
        train.append(shuffled[:n_i])
        test.append(shuffled[n_i : n_i + t_i])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _approximate_mode(
    class_counts: np.ndarray, n_draws: int, rng: np.random.RandomState
) -> np.ndarray:
    """How many rows of each class to draw: proportional, rounded down, the rest handed to
    the largest remainders with ties broken at random (scikit-learn's `_approximate_mode`)."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need = int(n_draws - floored.sum())
    if need > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (tied,) = np.where(remainder == value)
            take = min(len(tied), need)
            floored[rng.choice(tied, size=take, replace=False)] += 1
            need -= take
            if need == 0:
                break
    return floored.astype(int)


def unequal_sizes(num_owners: int, seed: int, concentration: float = 2.0) -> np.ndarray:
    """Shares of the data per owner, drawn from a Dirichlet so owners differ in size."""
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.full(num_owners, concentration))


def partition_stratified(
    y: np.ndarray, shares: np.ndarray, seed: int, min_per_class: int = 1
) -> list[np.ndarray]:
    """Splits row indices among owners by `shares` (summing to 1), class by class, so each
    owner gets every class in about the global proportion. Each owner receives at least
    `min_per_class` rows of every class that has enough rows."""
    shares = np.asarray(shares, dtype=np.float64)
    if (
        shares.ndim != 1
        or len(shares) == 0
        or (shares < 0).any()
        or not np.isclose(shares.sum(), 1)
    ):
        raise PartitionError("owner shares must be non-negative and sum to 1.")
    num_owners = len(shares)
    if num_owners > len(y):
        raise PartitionError(f"cannot split {len(y)} rows among {num_owners} owners.")
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in range(num_owners)]
    for label in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == label))
        floor = min_per_class if len(rows) >= min_per_class * num_owners else 0
        spare = len(rows) - floor * num_owners
        counts = floor + np.floor(shares * spare).astype(int)
        # hand the rounding remainder to the owners with the largest fractional parts
        remainder = len(rows) - counts.sum()
        order = np.argsort(-(shares * spare - np.floor(shares * spare)), kind="stable")
        counts[order[:remainder]] += 1
        bounds = np.concatenate([[0], np.cumsum(counts)])
        for owner in range(num_owners):
            parts[owner].append(rows[bounds[owner] : bounds[owner + 1]])
    return [np.sort(np.concatenate(p)) for p in parts]


def iid_partition(num_rows: int, clients: int, seed: int) -> list[np.ndarray]:
    """Rows shuffled and dealt into `clients` parts of (almost) equal size."""
    if not 1 <= clients <= num_rows:
        raise PartitionError(f"cannot split {num_rows} rows among {clients} clients.")
    rows = np.random.default_rng(seed).permutation(num_rows)
    return [np.sort(part) for part in np.array_split(rows, clients)]


def dirichlet_partition(
    y: np.ndarray, clients: int, alpha: float, seed: int, min_rows: int = 2
) -> list[np.ndarray]:
    """Label skew (Hsu et al. 2019): each class is split among clients by proportions
    drawn from Dirichlet(alpha); small alpha gives each client few classes. A client left
    with fewer than `min_rows` rows gets them from the largest clients."""
    if alpha <= 0:
        raise PartitionError(f"alpha must be positive, got {alpha}.")
    if clients * min_rows > len(y):
        raise PartitionError(f"{len(y)} rows cannot give {clients} clients {min_rows} each.")
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in range(clients)]
    for label in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == label))
        cuts = (np.cumsum(rng.dirichlet(np.full(clients, alpha))) * len(rows)).astype(int)
        for client, chunk in enumerate(np.split(rows, cuts[:-1])):
            parts[client].append(chunk)
    out = [list(np.concatenate(p)) for p in parts]
    for client in range(clients):
        while len(out[client]) < min_rows:
            donor = max(range(clients), key=lambda c: len(out[c]))
            out[client].append(out[donor].pop())
    return [np.sort(np.asarray(p, dtype=np.int64)) for p in out]


def quantity_skew_partition(
    num_rows: int, clients: int, concentration: float, seed: int, min_rows: int = 1
) -> list[np.ndarray]:
    """Quantity skew: client sizes drawn from Dirichlet(concentration) (small values give
    a few large clients and many small ones); rows are otherwise shuffled at random."""
    if concentration <= 0:
        raise PartitionError(f"concentration must be positive, got {concentration}.")
    if clients * min_rows > num_rows:
        raise PartitionError(f"{num_rows} rows cannot give {clients} clients {min_rows} each.")
    rng = np.random.default_rng(seed)
    spare = num_rows - clients * min_rows
    sizes = min_rows + np.floor(rng.dirichlet(np.full(clients, concentration)) * spare).astype(int)
    sizes[np.argmax(sizes)] += num_rows - sizes.sum()
    rows = rng.permutation(num_rows)
    return [np.sort(part) for part in np.split(rows, np.cumsum(sizes)[:-1])]
