"""Shamir t-of-n secret sharing of 32-byte secrets over the prime field of 2^521 - 1.

The field is larger than any 32-byte secret, so a secret is one field element and a share
is one field element plus the holder's x-coordinate (1..n, never 0)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence

from dain.learning.errors import SecAggError

PRIME = 2**521 - 1  # a Mersenne prime
SECRET_BYTES = 32
SHARE_BYTES = 66  # 521 bits


def split(secret: bytes, holders: Sequence[int], threshold: int) -> dict[int, int]:
    """Shares of `secret` for each holder x-coordinate; any `threshold` of them rebuild it,
    fewer reveal nothing about it."""
    if len(secret) != SECRET_BYTES:
        raise SecAggError(f"A shared secret must be {SECRET_BYTES} bytes, not {len(secret)}.")
    if not 1 <= threshold <= len(holders):
        raise SecAggError(f"Threshold {threshold} must be between 1 and {len(holders)} holders.")
    if len(set(holders)) != len(holders) or any(not 0 < x < PRIME for x in holders):
        raise SecAggError("Share holders need distinct, non-zero x-coordinates.")
    coefficients = [int.from_bytes(secret, "big")]
    coefficients += [secrets.randbelow(PRIME) for _ in range(threshold - 1)]
    shares = {}
    for x in holders:
        y = 0
        for c in reversed(coefficients):  # Horner
            y = (y * x + c) % PRIME
        shares[x] = y
    return shares


def lagrange_at_zero(xs: Sequence[int]) -> dict[int, int]:
    """The weights that rebuild f(0) from f at `xs`; reusable for every secret shared
    among the same holders."""
    weights = {}
    for i in xs:
        numerator, denominator = 1, 1
        for j in xs:
            if j != i:
                numerator = numerator * j % PRIME
                denominator = denominator * (j - i) % PRIME
        weights[i] = numerator * pow(denominator, -1, PRIME) % PRIME
    return weights


def combine(shares: Mapping[int, int], threshold: int) -> bytes:
    """The secret from at least `threshold` shares (the first `threshold` by holder)."""
    if len(shares) < threshold:
        raise SecAggError(f"{len(shares)} shares cannot rebuild a secret that needs {threshold}.")
    xs = sorted(shares)[:threshold]
    weights = lagrange_at_zero(xs)
    value = sum(shares[x] * weights[x] for x in xs) % PRIME
    if value >= 2 ** (8 * SECRET_BYTES):
        raise SecAggError("The shares do not rebuild a valid secret: some were altered.")
    return value.to_bytes(SECRET_BYTES, "big")


def encode_share(value: int) -> bytes:
    return value.to_bytes(SHARE_BYTES, "big")


def decode_share(raw: bytes) -> int:
    if len(raw) != SHARE_BYTES:
        raise SecAggError(f"A share is {SHARE_BYTES} bytes, not {len(raw)}.")
    value = int.from_bytes(raw, "big")
    if value >= PRIME:
        raise SecAggError("A share lies outside the field.")
    return value
