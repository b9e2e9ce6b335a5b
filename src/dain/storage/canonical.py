"""Canonical JSON: one byte string per value, so signatures and hashes are stable."""

from __future__ import annotations

import json


def canonical_json(value: object) -> bytes:
    """Sorted keys, no spaces, UTF-8; refuses NaN and infinities, which JSON lacks."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()
