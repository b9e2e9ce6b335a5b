"""What clients send in a secure round, as plain data with a JSON form: the share message of
stage 1, the consistency check of stage 3 and the unmask response of stage 4. (The masked
vector of stage 2 is a blob.)"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dain.learning.errors import SecAggError
from dain.learning.secagg import shamir
from dain.learning.secagg.pairs import VOUCHER_BYTES

MIN_EXPONENT, MAX_EXPONENT = -60, 60


def exponent_of(values: np.ndarray) -> int:
    """The smallest e (within bounds) with every |value| <= 2^e."""
    largest = float(np.max(np.abs(values))) if np.size(values) else 0.0
    if not np.isfinite(largest):
        raise SecAggError("The update holds NaN or infinite values: training diverged.")
    if not largest > 0:
        return MIN_EXPONENT
    return int(np.clip(math.ceil(math.log2(largest)), MIN_EXPONENT, MAX_EXPONENT))


@dataclass(frozen=True)
class ShareMessage:
    """Stage 1 from one client: its fresh public mask key and, per neighbour, the
    encrypted shares of its self-mask seed and private mask key."""

    sender: int
    mask_key: bytes
    ciphertexts: Mapping[int, bytes]  # recipient party -> nonce || AES-GCM ciphertext
    exponent: int = 0  # the smallest e with every |value| <= 2^e (see value_range_of)

    def to_dict(self) -> dict[str, object]:
        return {
            "sender": str(self.sender),
            "mask_key": self.mask_key.hex(),
            "exponent": self.exponent,
            "ciphertexts": {str(k): v.hex() for k, v in sorted(self.ciphertexts.items())},
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, object]) -> ShareMessage:
        try:
            ciphertexts = raw["ciphertexts"]
            assert isinstance(ciphertexts, dict)
            exponent = raw.get("exponent", 0)
            assert isinstance(exponent, int) and MIN_EXPONENT <= exponent <= MAX_EXPONENT
            return cls(
                int(str(raw["sender"])),
                bytes.fromhex(str(raw["mask_key"])),
                {int(k): bytes.fromhex(str(v)) for k, v in ciphertexts.items()},
                exponent,
            )
        except (KeyError, ValueError, TypeError, AssertionError) as exc:
            raise SecAggError(f"A share message is malformed ({exc!r}).") from exc


@dataclass(frozen=True)
class UnmaskResponse:
    """Stage 4 from one survivor: the shares it holds, of self-mask seeds (for survivors)
    and of private mask keys (for the dropped)."""

    sender: int
    seed_shares: Mapping[int, int]  # owner party -> share
    key_shares: Mapping[int, int]

    def to_dict(self) -> dict[str, object]:
        def encode(shares: Mapping[int, int]) -> dict[str, str]:
            return {str(k): shamir.encode_share(v).hex() for k, v in sorted(shares.items())}

        return {
            "sender": str(self.sender),
            "seed_shares": encode(self.seed_shares),
            "key_shares": encode(self.key_shares),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, object]) -> UnmaskResponse:
        def decode(shares: object) -> dict[int, int]:
            assert isinstance(shares, dict)
            return {int(k): shamir.decode_share(bytes.fromhex(str(v))) for k, v in shares.items()}

        try:
            return cls(
                int(str(raw["sender"])), decode(raw["seed_shares"]), decode(raw["key_shares"])
            )
        except (KeyError, ValueError, TypeError, AssertionError) as exc:
            raise SecAggError(f"An unmask message is malformed ({exc!r}).") from exc


@dataclass(frozen=True)
class ConsistencyCheck:
    """Stage 3 from one survivor: the digest of its view of the round (its roster and the
    survivor set, see `RoundSetup.consistency_digest`) and, for each other survivor, its
    voucher for that digest (see `pairs`)."""

    sender: int
    digest: bytes
    vouchers: Mapping[int, bytes]  # recipient party -> MAC only the two of them can make

    def to_dict(self) -> dict[str, object]:
        return {
            "sender": str(self.sender),
            "digest": self.digest.hex(),
            "vouchers": {str(k): v.hex() for k, v in sorted(self.vouchers.items())},
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, object]) -> ConsistencyCheck:
        try:
            vouchers = raw["vouchers"]
            assert isinstance(vouchers, dict)
            check = cls(
                int(str(raw["sender"])),
                bytes.fromhex(str(raw["digest"])),
                {int(k): bytes.fromhex(str(v)) for k, v in vouchers.items()},
            )
        except (KeyError, ValueError, TypeError, AssertionError) as exc:
            raise SecAggError(f"A consistency check is malformed ({exc!r}).") from exc
        if len(check.digest) != 32 or any(len(v) != VOUCHER_BYTES for v in check.vouchers.values()):
            raise SecAggError("A consistency check holds a 32-byte digest and 16-byte vouchers.")
        return check
