"""An expiry as a person writes it (a date, unix seconds, 'never') read into unix seconds;
what is not one, or is already past, is refused with the fix named."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dain.data import parse_expiry
from dain.data.errors import PolicyError

NOW = 1_800_000_000.0


def test_dates_seconds_and_never() -> None:
    assert parse_expiry("never", NOW) == 0
    assert parse_expiry(" Never ", NOW) == 0
    assert parse_expiry("", NOW) == 0
    assert parse_expiry("2030-01-01", NOW) == 1_893_456_000
    assert parse_expiry("1900000000", NOW) == 1_900_000_000


@pytest.mark.parametrize(
    ("text", "says"),
    [("2020-01-01", "already past"), ("1700000000", "already past"), ("tomorrow", "not a date"),
     ("²", "not a date"), ("2030-02-30", "not a date"), ("99999999999999999999", "year 9999")],
)  # fmt: skip
def test_what_is_not_a_future_expiry_is_refused(text: str, says: str) -> None:
    with pytest.raises(PolicyError, match=says) as refused:
        parse_expiry(text, NOW)
    assert refused.value.hint


@given(st.dates(min_value=dt.date(2027, 1, 16), max_value=dt.date(9999, 12, 31)))
def test_any_future_date_is_its_midnight_utc(day: dt.date) -> None:
    expected = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()
    assert parse_expiry(day.isoformat(), NOW) == expected
