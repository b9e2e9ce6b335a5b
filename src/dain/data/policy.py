"""Consent policies: the owner's terms for using a data asset.

The on-chain copy (purposes, expiry, price, revocation) is what the contracts enforce; the
full document, addressed by its content id, is what people read. A node checks its own
copy before it trains: it is the last guard of its own data.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from dain.data.errors import PolicyError
from dain.storage.canonical import canonical_json

_PURPOSE = re.compile(r"^[a-z0-9][a-z0-9:._-]{0,31}$")


def check_purpose(tag: str) -> str:
    if not _PURPOSE.match(tag):
        raise PolicyError(
            f"'{tag}' is not a purpose tag.",
            hint=(
                "Use 1-32 lowercase letters, digits or ':._-', "
                "e.g. 'diagnosis' or 'research:oncology'."
            ),
        )
    return tag


def purpose_to_bytes32(tag: str) -> bytes:
    """A purpose tag as it is stored on chain: UTF-8, left-aligned, zero-padded."""
    return check_purpose(tag).encode().ljust(32, b"\0")


def bytes32_to_purpose(raw: bytes) -> str:
    return bytes(raw).rstrip(b"\0").decode("utf-8", errors="replace")


@dataclass(frozen=True)
class ConsentPolicy:
    purposes: tuple[str, ...]
    expiry: int = 0  # unix seconds; 0 = never expires
    price_per_round: int = 0  # token base units per round the asset is used
    statement: str = ""  # the owner's words, for people

    def __post_init__(self) -> None:
        if not self.purposes:
            raise PolicyError("a consent policy must allow at least one purpose.")
        for tag in self.purposes:
            check_purpose(tag)
        if self.expiry < 0 or self.price_per_round < 0:
            raise PolicyError("expiry and price per round cannot be negative.")

    def allows(self, purpose: str, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return purpose in self.purposes and (self.expiry == 0 or now < self.expiry)

    def document(self) -> bytes:
        """The full policy as canonical JSON; its content id goes on chain."""
        return canonical_json(
            {
                "purposes": list(self.purposes),
                "expiry": self.expiry,
                "price_per_round": self.price_per_round,
                "statement": self.statement,
            }
        )
