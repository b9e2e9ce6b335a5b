"""The reference for what the Jobs contract pays, on cases checked by hand; the contract
itself is checked against it in tests/ledger/test_rewards.py."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dain.incentives.settlement import AssetUse, cancel_split, settle


def test_prices_first_then_the_floor_then_examples_times_quality() -> None:
    # 1,000 to share; asset 1 costs 10 a round for 2 rounds; floor 10% to the two used in both
    uses = [
        AssetUse(1, price=10, rounds_used=2, examples=100),
        AssetUse(2, rounds_used=2, examples=100, values={"x": [500], "y": [500], "z": [250]}),
        AssetUse(3, rounds_used=1, examples=200),
    ]

    owed = settle(1_000, 2, 1_000, uses)

    # rest 980: floor 98 (49 each to 1 and 2); 882 by weights 100*500, 100*500, 200*500 cut
    # from running sums: 220 (of 220.5), 441 - 220, 882 - 441
    assert owed == {1: 20 + 49 + 220, 2: 49 + 221, 3: 441}
    assert sum(owed.values()) == 1_000


def test_amounts_add_up_to_the_pool_exactly() -> None:
    uses = [AssetUse(a, rounds_used=1, examples=1) for a in range(3)]

    owed = settle(100, 1, 0, uses)

    assert owed == {0: 33, 1: 33, 2: 34}  # running sums: 33, 66, 100


def test_nothing_is_owed_when_no_data_was_used() -> None:
    assert settle(100, 3, 1_000, [AssetUse(1), AssetUse(2)]) == {}


def test_when_every_asset_is_worthless_examples_decide() -> None:
    worthless = {"x": [-5], "y": [0], "z": [-1]}
    uses = [AssetUse(1, rounds_used=1, examples=30, values=worthless),
            AssetUse(2, rounds_used=1, examples=10, values=worthless)]  # fmt: skip

    assert settle(40, 1, 0, uses) == {1: 30, 2: 10}


def test_a_cancelled_job_pays_the_rounds_done() -> None:
    # 100 in the pool, prices 5 a round over 4 rounds reserve 20; one round done
    assert cancel_split(100, 5, 4, 1) == (5 + 20, 75)
    assert cancel_split(100, 5, 4, 0) == (0, 100)


@given(
    pool=st.integers(0, 10**24),
    floor=st.integers(0, 10_000),
    uses=st.lists(st.tuples(st.integers(0, 3), st.integers(1, 10**6), st.integers(-50, 900)),
                  min_size=1, max_size=12),
)  # fmt: skip
def test_what_is_owed_adds_up_to_what_the_owners_share(
    pool: int, floor: int, uses: list[tuple[int, int, int]]
) -> None:
    assets = [
        AssetUse(i, rounds_used=used, examples=examples * used,
                 values={j: [value] for j in range(3)} if value < 800 else {})
        for i, (used, examples, value) in enumerate(uses)
    ]  # fmt: skip

    owed = settle(pool, 3, floor, assets)

    assert sum(owed.values()) == (pool if any(a.rounds_used for a in assets) else 0)
    assert all(amount >= 0 for amount in owed.values())
