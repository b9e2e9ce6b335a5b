from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dain.incentives import BPS, contribution_weights, payouts, to_basis_points

weights = st.dictionaries(
    st.integers(1, 2**256 - 1), st.integers(1, 10**9), min_size=1, max_size=20
)


def test_weights_sum_examples_over_rounds() -> None:
    assert contribution_weights([(1, 10), (2, 5), (1, 10)]) == {1: 20, 2: 5}


def test_basis_points_by_hand() -> None:
    assert to_basis_points({1: 1, 2: 1, 3: 1}) == {1: 3_334, 2: 3_333, 3: 3_333}
    with pytest.raises(ValueError):
        to_basis_points({})
    with pytest.raises(ValueError):
        to_basis_points({1: 0})


def test_basis_points_give_a_zero_weight_nothing() -> None:
    assert to_basis_points({1: 0, 2: 1, 3: 2}) == {1: 0, 2: 3_333, 3: 6_667}
    with pytest.raises(ValueError):
        to_basis_points({1: -1, 2: 2})


@given(weights, st.sets(st.integers(1, 2**256 - 1), max_size=5))
def test_zero_weights_never_get_a_basis_point(w: dict[int, int], zeros: set[int]) -> None:
    shares = to_basis_points({**w, **dict.fromkeys(zeros - set(w), 0)})

    assert sum(shares.values()) == BPS
    assert all(shares[a] == 0 for a in zeros - set(w))


@given(weights)
def test_basis_points_always_sum_to_the_whole(w: dict[int, int]) -> None:
    shares = to_basis_points(w)
    assert sum(shares.values()) == BPS and set(shares) == set(w)
    total = sum(w.values())
    for asset in w:
        assert abs(shares[asset] - w[asset] * BPS / total) < 1


@given(
    pool=st.integers(0, 10**27),
    data=st.data(),
    rounds=st.integers(1, 20),
    floor=st.integers(0, BPS),
)
def test_payouts_pay_exactly_the_pool(
    pool: int, data: st.DataObject, rounds: int, floor: int
) -> None:
    w = data.draw(weights)
    used = {a: data.draw(st.integers(1, rounds)) for a in w}
    prices = {a: data.draw(st.integers(0, pool // (rounds * len(w)) if pool else 0)) for a in w}

    owed = payouts(pool, rounds, used, prices, to_basis_points(w), floor)

    assert sum(owed.values()) == pool
    assert all(owed[a] >= prices[a] * used[a] for a in w)


def test_floor_share_goes_only_to_assets_in_every_round() -> None:
    owed = payouts(1_000, 4, {1: 4, 2: 2}, {}, {1: 5_000, 2: 5_000}, 2_000)
    assert owed == {1: 600, 2: 400}  # 200 floor to asset 1, then 400 each
