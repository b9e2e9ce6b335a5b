"""Hashes as dain prints and returns them: 0x and lowercase hex, the form every Ethereum
tool gives transaction hashes, block hashes and bytes32 values (an asset id has its own
form: dain.data.format_asset_id)."""

from __future__ import annotations


def format_hash(value: bytes | str) -> str:
    """0x and the lowercase hex of `value`: bytes (HexBytes too, whose `.hex()` has no 0x
    since hexbytes 1.0), or hex text with or without 0x."""
    if isinstance(value, str):
        digits = value[2:] if value[:2].lower() == "0x" else value
        return "0x" + bytes.fromhex(digits).hex()  # refuses text that is not hex
    return "0x" + bytes(value).hex()
