"""An asset's held-out split: disjoint from its training rows, the documented size, the same
for the same seed, each class in proportion, and a rare class on both sides."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dain.data import MAX_HELD_OUT, held_out_count, holdout_seed, holdout_split


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.int64, st.integers(0, 300), elements=st.integers(0, 6)), st.integers(0, 99))
def test_a_split_is_disjoint_whole_sized_and_stratified(y: np.ndarray, seed: int) -> None:
    train, held = holdout_split(y, seed)

    assert np.array_equal(np.sort(np.concatenate([train, held])), np.arange(len(y)))
    assert len(held) == held_out_count(len(y)) == min(MAX_HELD_OUT, int(0.2 * len(y)))
    counts = np.bincount(y, minlength=7)
    kept = counts >= 2
    held_counts = np.bincount(y[held], minlength=7)
    if kept.sum() <= len(held):  # enough held-out rows for every class of two rows or more
        assert np.all(held_counts[kept] >= 1)
        assert np.all(np.bincount(y[train], minlength=7)[kept] >= 1)
    else:  # otherwise each class in proportion, give or take one row
        assert np.all(np.abs(held_counts - counts * len(held) / max(len(y), 1)) < 1)


def test_the_same_asset_holds_out_the_same_rows_every_time() -> None:
    y = np.random.default_rng(0).integers(0, 3, 500)
    first = holdout_split(y, holdout_seed(0xABC))
    again = holdout_split(y, holdout_seed(0xABC))
    other = holdout_split(y, holdout_seed(0xABD))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[1], other[1])


def test_two_frauds_in_a_hundred_put_one_on_each_side() -> None:
    y = np.zeros(100, dtype=np.int64)
    y[[17, 60]] = 1
    train, held = holdout_split(y, 5)
    assert (len(train), len(held)) == (80, 20)
    assert y[held].sum() == 1 and y[train].sum() == 1


def test_a_large_asset_holds_out_at_most_the_cap_and_regression_is_not_stratified() -> None:
    y = np.random.default_rng(1).normal(size=40_000)
    train, held = holdout_split(y, 3, stratify=False)
    assert len(held) == MAX_HELD_OUT and len(train) == 40_000 - MAX_HELD_OUT
    assert holdout_split(np.zeros(4), 3)[1].size == 0  # four rows: all of them train
