"""Asset ids as people read and type them. An asset id is the sha2-256 digest of its
manifest, a 32-byte number: it is always written as 0x and 64 hex digits, leading zeros
kept, so the same asset reads the same everywhere. Typed ones may drop the 0x or a few
leading zeros, or be the decimal token id a wallet shows; a truncated or garbled one is
refused, naming the form expected and any known asset it may have meant."""

from __future__ import annotations

import string
from collections.abc import Iterable

from dain.data.errors import AssetIdError

HEX_DIGITS = 64
# fewer digits than this is a truncated id, not one with leading zeros dropped: a digest
# starts with 8 zero digits once in 4 billion
MIN_HEX_DIGITS = 56
MAX_DECIMAL_DIGITS = 78  # 2**256 - 1 has 78 decimal digits
EXAMPLE = "0x" + "3e3eb104b56baccac077dfa6fd2cf6adb04cea97be0379055a337ed13cd03638"


def format_asset_id(asset_id: int) -> str:
    """0x and 64 lowercase hex digits, leading zeros kept."""
    if not 0 <= asset_id < 2**256:
        raise ValueError(f"An asset id is a 256-bit number, not {asset_id}.")
    return f"0x{asset_id:064x}"


def parse_asset_id(text: str, known: Iterable[int] = ()) -> int:
    """The asset id `text` names: 0x and up to 64 hex digits, the same without 0x, or the
    decimal token id a wallet shows (more than 64 digits). Refuses anything else with an
    AssetIdError; its hint names those of `known` (assets this node holds) that `text`
    could be a piece of."""
    raw = text.strip()
    shortened = raw.endswith(("…", "..."))  # copied from a table that shows the first digits
    raw = raw.rstrip("….")
    digits = raw[2:] if raw[:2].lower() == "0x" else raw
    decimal = digits is raw and len(digits) > HEX_DIGITS and digits.isdigit()
    if decimal and len(digits) <= MAX_DECIMAL_DIGITS and int(digits) < 2**256:
        return int(digits)
    bad = next((c for c in digits if c not in string.hexdigits), None)
    if digits and bad is None and MIN_HEX_DIGITS <= len(digits) <= HEX_DIGITS:
        return int(digits, 16)
    if not digits:
        problem = f"'{text}' is not an asset id: it has no digits."
    elif bad is not None:
        where = digits.index(bad) + 1
        problem = f"'{text}' is not an asset id: '{bad}' (digit {where}) is not a hex digit."
    elif len(digits) > HEX_DIGITS:
        problem = f"'{text}' is not an asset id: it has {len(digits)} hex digits, not 64."
    elif shortened:
        problem = f"'{text}' is a shortened asset id: it shows {len(digits)} of 64 hex digits."
    else:
        problem = f"'{text}' is not a whole asset id: it has {len(digits)} of 64 hex digits."
    raise AssetIdError(problem, hint=_hint(digits, known))


def _hint(digits: str, known: Iterable[int]) -> str:
    form = f"An asset id is 0x followed by 64 hex digits, e.g. {EXAMPLE}."
    near = _close_matches(digits, known)
    if near:
        return form + " Did you mean " + " or ".join(format_asset_id(a) for a in near) + "?"
    return form + " 'dain data list' shows your assets' ids in full."


def _close_matches(digits: str, known: Iterable[int], limit: int = 3) -> list[int]:
    """Known asset ids that `digits` (at least 4 hex digits) could be a piece of, best
    first: those it begins (leading zeros dropped or not), then those it is inside."""
    needle = digits.lower()
    if len(needle) < 4:
        return []
    ids = sorted(set(known))
    begun = [a for a in ids if f"{a:064x}".startswith(needle)
             or f"{a:x}".startswith(needle.lstrip("0"))]  # fmt: skip
    inside = [a for a in ids if needle in f"{a:064x}" and a not in begun]
    return (begun + inside)[:limit]
