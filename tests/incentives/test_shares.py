from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dain.incentives import contribution_weights, split_pool


def test_weights_sum_examples_over_rounds() -> None:
    assert contribution_weights([(1, 10), (2, 5), (1, 10)]) == {1: 20, 2: 5}


@given(
    st.integers(0, 10**30),
    st.dictionaries(st.integers(1, 2**256 - 1), st.integers(1, 10**9), min_size=1),
)
def test_split_pays_exactly_the_pool(pool: int, weights: dict[int, int]) -> None:
    amounts = split_pool(pool, weights)
    assert sum(amounts.values()) == pool
    assert set(amounts) == set(weights)
    total = sum(weights.values())
    for asset, weight in weights.items():
        assert amounts[asset] >= pool * weight // total


def test_split_refuses_empty_or_zero_weights() -> None:
    with pytest.raises(ValueError):
        split_pool(10, {})
    with pytest.raises(ValueError):
        split_pool(10, {1: 0})
