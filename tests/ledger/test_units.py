"""Amounts in DAIN convert to base units exactly, and back."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dain.errors import ConfigError
from dain.ledger import TOKEN_UNIT, format_dain, parse_dain


@pytest.mark.parametrize(
    ("text", "base"),
    [("1", TOKEN_UNIT), ("0.1", TOKEN_UNIT // 10), ("12.5 DAIN", 12 * TOKEN_UNIT + TOKEN_UNIT // 2),
     ("1_000", 1000 * TOKEN_UNIT), ("1,000.25", 1000 * TOKEN_UNIT + TOKEN_UNIT // 4),
     ("0.000000000000000001", 1), (3, 3 * TOKEN_UNIT), ("0", 0)],
)  # fmt: skip
def test_amounts_people_write(text: str, base: int) -> None:
    assert parse_dain(text) == base


@pytest.mark.parametrize(
    ("text", "complaint"),
    [("ten", "not an amount"), ("-1", "negative"), ("0.0000000000000000001", "18 decimals"),
     ("nan", "not an amount"), ("inf", "not an amount"), ("", "not an amount")],
)  # fmt: skip
def test_what_is_not_an_amount_is_refused(text: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        parse_dain(text)


@given(st.integers(min_value=0, max_value=10**30))
def test_every_amount_shown_in_full_reads_back_the_same(base: int) -> None:
    assert parse_dain(format_dain(base, places=18)) == base


def test_shown_amounts() -> None:
    assert format_dain(1000 * TOKEN_UNIT) == "1,000 DAIN"
    assert format_dain(TOKEN_UNIT // 4) == "0.25 DAIN"
    assert format_dain(1000) == "0.000000000000001 DAIN"  # dust is never shown as 0
    assert format_dain(0) == "0 DAIN"
    assert Decimal(format_dain(2 * TOKEN_UNIT // 3).split()[0]) == Decimal("0.6667")
