"""Recorded values and quality: the int16 encoding, the credit, the median over judges
against dishonest judges, and shares by examples x quality."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from dain.incentives import (
    BPS,
    FULL_AT,
    MIN_JUDGES,
    VALUE_MAX,
    VALUE_MIN,
    VALUE_ONE,
    ValuedReceipt,
    contribution_weights,
    credit,
    encode_round,
    quality,
    quality_weights,
    shares_by_value,
    to_basis_points,
)

finite = st.floats(-1e6, 1e6, allow_nan=False)
int16 = st.integers(VALUE_MIN, VALUE_MAX)


def test_a_round_is_encoded_against_its_median_update_by_hand() -> None:
    assert encode_round({1: 0.02, 2: 0.01, 3: -0.01}) == {1: 2000, 2: 1000, 3: -1000}
    # one very harmful update does not shrink the others, as a mean scale would
    assert encode_round({1: 0.01, 2: 0.01, 3: -5.0}) == {1: 1000, 2: 1000, 3: VALUE_MIN}
    assert encode_round({1: 3.0, 2: 0.0, 3: 0.0}) == {1: 3000, 2: 0, 3: 0}  # median 0: mean
    assert encode_round({1: 0.0, 2: 0.0}) == {1: 0, 2: 0}
    assert encode_round({}) == {}
    with pytest.raises(ValueError, match="finite"):
        encode_round({1: float("nan"), 2: 1.0})


@given(st.dictionaries(st.integers(0, 100), finite, min_size=1, max_size=30))
def test_encoding_round_trips_within_its_resolution_and_stays_in_int16(
    values: dict[int, float],
) -> None:
    encoded = encode_round(values)

    assert set(encoded) == set(values)
    assert all(VALUE_MIN <= v <= VALUE_MAX and isinstance(v, int) for v in encoded.values())
    sizes = [abs(v) for v in values.values()]
    scale = statistics.median(sizes) or sum(sizes) / len(sizes)
    for key, phi in values.items():
        if scale == 0:
            assert encoded[key] == 0
            continue
        exact = VALUE_ONE * phi / scale
        if VALUE_MIN <= exact <= VALUE_MAX:  # decoded, within half a step of what it was
            assert abs(encoded[key] * scale / VALUE_ONE - phi) <= scale / VALUE_ONE / 2 * 1.0001
        else:  # clamped at the end it was past
            assert encoded[key] == (VALUE_MAX if exact > 0 else VALUE_MIN)


def test_credit_is_the_value_clamped_to_zero_and_full() -> None:
    assert [credit(v) for v in (VALUE_MIN, -1, 0, 250, FULL_AT, 1000, VALUE_MAX)] == [
        0, 0, 0, 250, FULL_AT, FULL_AT, FULL_AT,
    ]  # fmt: skip
    for outside in (VALUE_MIN - 1, VALUE_MAX + 1):
        with pytest.raises(ValueError, match="int16"):
            credit(outside)


def test_quality_is_the_lower_median_of_each_judges_mean_by_hand() -> None:
    judges = {"a": [1000, 200], "b": [-5000], "c": [400, 400, 501]}  # means 350, 0, 433

    assert quality(judges) == 350
    assert quality({**judges, "d": [700]}) == 350  # 0, 350, 433, 500: the lower middle
    assert quality({}) == FULL_AT  # never valued: paid by examples
    assert quality({"a": [], "b": [0], "c": [0]}) == FULL_AT
    # two judges: the lower median would be the smaller, which one liar sets alone
    assert MIN_JUDGES == 3
    assert quality({"honest": [1000], "liar": [VALUE_MIN]}) == FULL_AT


@given(
    honest=st.lists(st.lists(int16, min_size=1, max_size=6), min_size=1, max_size=12),
    lies=st.lists(st.lists(int16, min_size=1, max_size=40), max_size=12),
)
def test_a_minority_of_judges_moves_quality_only_between_honest_order_statistics(
    honest: list[list[int]], lies: list[list[int]]
) -> None:
    liars = lies[: len(honest) - 1]  # fewer than the honest: f <= (J - 1) // 2
    f, middle = len(liars), (len(honest) + len(liars) - 1) // 2
    assume(len(honest) + f >= MIN_JUDGES)
    honest_means = sorted(sum(credit(v) for v in vs) // len(vs) for vs in honest)

    corrupted = quality({("h", i): vs for i, vs in enumerate(honest)}
                        | {("l", i): vs for i, vs in enumerate(liars)})  # fmt: skip

    assert honest_means[middle - f] <= corrupted <= honest_means[middle]


def test_one_judge_counts_once_however_many_rounds_it_aggregated() -> None:
    honest = {judge: [1000] for judge in range(5)}
    liar_rounds = [VALUE_MIN] * 50

    assert quality({**honest, "liar": liar_rounds}) == FULL_AT
    # the same lies counted per round would have taken the median to 0
    every_round = sorted([credit(v) for vs in honest.values() for v in vs]
                         + [credit(v) for v in liar_rounds])  # fmt: skip
    assert every_round[(len(every_round) - 1) // 2] == 0


def receipt(asset: int, examples: int, aggregator: str, value: int | None) -> ValuedReceipt:
    return ValuedReceipt(asset, examples, aggregator, value)


def test_shares_are_examples_times_quality_by_hand() -> None:
    receipts = [
        receipt(1, 10, "x", 1000), receipt(2, 10, "x", 250), receipt(3, 20, "x", -300),
        receipt(1, 10, "y", None),  # asset 1's owner aggregates: no value for its own
        receipt(2, 10, "y", 250), receipt(3, 20, "y", -300),
        receipt(1, 10, "z", 600), receipt(2, 10, "z", 250), receipt(3, 20, "z", 100),
        receipt(1, 10, "w", 800), receipt(2, 10, "w", None), receipt(3, 20, "w", -50),
    ]  # fmt: skip

    weights = quality_weights(receipts)

    # asset 3: judges' credits 0, 0, 100, 0, lower median 0
    assert weights == {1: 40 * FULL_AT, 2: 40 * 250, 3: 0}
    assert shares_by_value(receipts) == {1: 6_667, 2: 3_333, 3: 0}


def test_unvalued_jobs_and_worthless_ones_fall_back_to_examples() -> None:
    secure = [receipt(asset, n, judge, None) for judge in "xyz" for asset, n in ((1, 10), (2, 5))]
    harmful = [receipt(asset, n, judge, -10) for judge in "xyz" for asset, n in ((1, 10), (2, 5))]
    by_examples = to_basis_points(contribution_weights([(1, 30), (2, 15)]))

    assert quality_weights(harmful) == {1: 0, 2: 0}
    assert shares_by_value(secure) == by_examples == {1: 6_667, 2: 3_333}
    assert shares_by_value(harmful) == by_examples


@given(st.lists(st.tuples(st.integers(1, 6), st.integers(1, 500), st.integers(0, 4),
                          st.one_of(st.none(), int16)), min_size=1, max_size=40))  # fmt: skip
def test_shares_by_value_always_pay_out_the_whole(
    rows: list[tuple[int, int, int, int | None]],
) -> None:
    receipts = [ValuedReceipt(*row) for row in rows]

    shares = shares_by_value(receipts)

    assert sum(shares.values()) == BPS
    assert set(shares) == {r.asset for r in receipts}
    assert all(s >= 0 for s in shares.values())
