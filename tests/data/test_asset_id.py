"""Asset ids have one written form, 0x and 64 hex digits, and typed ones are read back
exactly or refused with the form expected, never taken for some other asset."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dain.data import AssetIdError, format_asset_id, parse_asset_id

ids = st.integers(0, 2**256 - 1)
SMALL = 0x00003E3EB104B56BACCAC077DFA6FD2CF6ADB04CEA97BE0379055A337ED13CD0  # 4 zero digits


@given(ids)
def test_every_id_reads_back_from_its_written_form(asset_id: int) -> None:
    text = format_asset_id(asset_id)

    assert len(text) == 66 and text.startswith("0x") and text == text.lower()
    assert parse_asset_id(text) == asset_id
    assert parse_asset_id(text[2:]) == asset_id  # without 0x
    assert parse_asset_id(text.upper().replace("0X", "0x")) == asset_id


@given(st.integers(2**240, 2**256 - 1))
def test_the_decimal_token_id_a_wallet_shows_is_read_too(asset_id: int) -> None:
    assert parse_asset_id(str(asset_id)) == asset_id


def test_leading_zeros_are_kept_when_written_and_optional_when_typed() -> None:
    assert format_asset_id(SMALL).startswith("0x00003e3e")
    assert parse_asset_id(hex(SMALL)) == SMALL  # Python's hex() drops them
    assert parse_asset_id(f"{SMALL:x}") == SMALL


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("0x3e3eb104", "has 8 of 64 hex digits"),
        (format_asset_id(SMALL)[:14] + "…", "shortened asset id"),
        (format_asset_id(SMALL)[:40], "has 38 of 64 hex digits"),
        (format_asset_id(SMALL) + "0", "65 hex digits, not 64"),
        ("0x3e3eb1o4" + "0" * 56, "'o' (digit 7) is not a hex digit"),
        ("hello", "'h' (digit 1) is not a hex digit"),
        ("", "no digits"),
    ],
)
def test_truncated_or_garbled_ids_are_refused_naming_the_form(text: str, says: str) -> None:
    with pytest.raises(AssetIdError) as refused:
        parse_asset_id(text)

    assert says in refused.value.message
    assert "0x followed by 64 hex digits" in (refused.value.hint or "")


def test_the_hint_names_known_assets_a_piece_could_be_from() -> None:
    other = int("ab" * 32, 16)
    shown = format_asset_id(SMALL)

    for piece in (shown[:14] + "…", "0x3e3eb104", shown[20:40]):
        with pytest.raises(AssetIdError) as refused:
            parse_asset_id(piece, known=[other, SMALL])
        assert f"Did you mean {shown}?" in (refused.value.hint or ""), piece

    with pytest.raises(AssetIdError) as refused:
        parse_asset_id("0x3e3e", known=[other])  # nothing close: where to look instead
    assert "Did you mean" not in (refused.value.hint or "")
    assert "dain data list" in (refused.value.hint or "")


def test_a_number_past_256_bits_is_not_an_id() -> None:
    with pytest.raises(ValueError, match="256-bit"):
        format_asset_id(2**256)
    with pytest.raises(AssetIdError):
        parse_asset_id(str(2**256))
