"""Consent policies: the owner's terms for using a data asset.

The on-chain copy (purposes, expiry, price, revocation) is what the contracts enforce; the
full document, addressed by its content id, is what people read. A node checks its own
copy before it trains: it is the last guard of its own data.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from dain.data.errors import PolicyError
from dain.identity import DidError, parse_did
from dain.storage import canonical_json

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
    """An owner's terms. Requesters are DIDs; with neither `allowed_requesters` nor
    `credential_issuer`, anyone may request. `max_epsilon` None means no privacy limit."""

    purposes: tuple[str, ...]
    expiry: int = 0  # unix seconds; 0 = never expires
    price_per_round: int = 0  # token base units per round the asset is used
    allowed_requesters: tuple[str, ...] = ()  # DIDs
    credential_issuer: str | None = None  # DID whose credential a requester may show instead
    min_participants: int = 0  # fewest assets in any round that uses this one
    max_epsilon: float | None = None  # most privacy loss a job may spend on this asset
    secure_aggregation: bool = False  # updates must be masked (secure aggregation)
    statement: str = ""  # the owner's words, for people

    def __post_init__(self) -> None:
        if not self.purposes:
            raise PolicyError("a consent policy must allow at least one purpose.")
        for tag in self.purposes:
            check_purpose(tag)
        if self.expiry < 0 or self.price_per_round < 0:
            raise PolicyError("expiry and price per round cannot be negative.")
        if not 0 <= self.min_participants < 2**16:
            raise PolicyError("minimum participants must be between 0 and 65535.")
        if self.max_epsilon is not None and not 0 < self.max_epsilon < 1e12:
            raise PolicyError(
                f"maximum epsilon must be positive, got {self.max_epsilon}.",
                hint="Leave it out for no privacy limit.",
            )
        issuer = (self.credential_issuer,) if self.credential_issuer else ()
        for did in (*self.allowed_requesters, *issuer):
            try:
                parse_did(did)
            except DidError as exc:
                raise PolicyError(f"Requester rules must name DIDs: {exc}") from exc

    def allows(
        self,
        purpose: str,
        now: float | None = None,
        *,
        requester: str | None = None,
        secure_aggregation: bool = True,
        epsilon: float | None = None,
    ) -> bool:
        """The owner's own check of a use; credentials are checked on chain only."""
        now = time.time() if now is None else now
        if purpose not in self.purposes or (self.expiry and now >= self.expiry):
            return False
        if requester is not None and self.allowed_requesters and self.credential_issuer is None:
            known = {parse_did(d)[1] for d in self.allowed_requesters}
            if parse_did(requester)[1] not in known:
                return False
        if self.secure_aggregation and not secure_aggregation:
            return False
        if self.max_epsilon is None:
            return True
        return epsilon is not None and epsilon <= self.max_epsilon

    def document(self) -> bytes:
        """The full policy as canonical JSON; its content id goes on chain."""
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ConsentPolicy:
        try:
            return cls(
                purposes=tuple(raw["purposes"]),
                expiry=int(raw.get("expiry", 0)),
                price_per_round=int(raw.get("price_per_round", 0)),
                allowed_requesters=tuple(raw.get("allowed_requesters", ())),
                credential_issuer=raw.get("credential_issuer"),
                min_participants=int(raw.get("min_participants", 0)),
                max_epsilon=raw.get("max_epsilon"),
                secure_aggregation=bool(raw.get("secure_aggregation", False)),
                statement=str(raw.get("statement", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PolicyError(f"Malformed consent policy ({exc!r}).") from exc

    def to_dict(self) -> dict[str, Any]:
        return {
            "purposes": list(self.purposes),
            "expiry": self.expiry,
            "price_per_round": self.price_per_round,
            "allowed_requesters": list(self.allowed_requesters),
            "credential_issuer": self.credential_issuer,
            "min_participants": self.min_participants,
            "max_epsilon": self.max_epsilon,
            "secure_aggregation": self.secure_aggregation,
            "statement": self.statement,
        }
