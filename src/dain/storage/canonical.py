"""JSON as dain signs and reads it: one canonical byte string per value, so signatures and
hashes are stable; and a parser for JSON from the network that bounds its size, nesting
and numbers before Python's parser sees it, so no document can exhaust the stack (the
C parser recurses per level, and py_ecc raises the recursion limit far past the stack)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from dain.costs import timed
from dain.storage.errors import CodecError

MAX_DEPTH = 32  # far more than any dain message nests


@timed("serialization")
def canonical_json(value: object) -> bytes:
    """Sorted keys, no spaces, UTF-8; refuses NaN and infinities, which JSON lacks."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


@timed("serialization")
def parse_json(data: bytes, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """The value of a JSON document from outside, or a CodecError that says what is wrong
    with it: larger than `max_bytes`, nested deeper than `max_depth`, not UTF-8 JSON, or
    holding a number Python refuses (integers of more than 4,300 digits)."""
    if len(data) > max_bytes:
        raise CodecError(f"The JSON document is {len(data)} bytes; at most {max_bytes} are taken.")
    depth = nesting_depth(data)
    if depth > max_depth:
        raise CodecError(f"The JSON document nests {depth} levels deep; at most {max_depth}.")
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CodecError(f"The data is not JSON ({exc}).") from exc
    except (ValueError, RecursionError) as exc:  # e.g. an integer too long to convert
        raise CodecError(f"The JSON document holds a value that cannot be read ({exc}).") from exc


def nesting_depth(data: bytes) -> int:
    """How deep brackets nest outside strings, counted without recursion and without a
    Python loop: quotes escaped by an odd run of backslashes are skipped, the rest toggle
    "inside a string", and brackets outside strings make a running sum."""
    opened = data.count(b"[") + data.count(b"{")
    if opened <= MAX_DEPTH:  # cannot nest deeper than it opens (brackets in strings too)
        return opened
    raw = np.frombuffer(data, dtype=np.uint8)
    index = np.arange(raw.size, dtype=np.int64)
    backslash = raw == ord("\\")
    # for each byte, the last position at or before it that is not a backslash
    last_plain = np.maximum.accumulate(np.where(backslash, -1, index))
    quotes = np.flatnonzero(raw == ord('"'))
    run = quotes - 1 - np.where(quotes > 0, last_plain[np.maximum(quotes - 1, 0)], -1)
    real = quotes[run % 2 == 0]  # an even run of backslashes before it: not escaped
    toggles = np.zeros(raw.size + 1, dtype=np.int8)
    toggles[real + 1] = 1  # a string starts after its opening quote, ends at its closing one
    inside = (np.cumsum(toggles[:-1], dtype=np.int64) % 2).astype(bool)
    opening = (raw == ord("[")) | (raw == ord("{"))
    closing = (raw == ord("]")) | (raw == ord("}"))
    steps = np.where(inside, 0, opening.astype(np.int8) - closing.astype(np.int8))
    return int(np.cumsum(steps, dtype=np.int64).max(initial=0))
