"""The arithmetic of secure aggregation: fixed-point vectors mod 2^32, masks expanded
from 32-byte seeds by AES-256-CTR, pairwise seeds from X25519, and the SecAgg+ graph."""

from __future__ import annotations

import functools
import hashlib
import math

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from dain.learning.errors import SecAggError

RING = np.uint32  # arithmetic mod 2^32 wraps for free in numpy's uint32
_HEADROOM = 2**31 - 1  # a sum of quantized values stays inside int32


def scale_for(clients: int, value_range: float) -> float:
    """Fixed-point scale so that `clients` values in [-value_range, value_range] sum
    without wrapping around the ring."""
    if clients < 1 or not value_range > 0:
        raise SecAggError("Quantization needs at least one client and a positive value range.")
    return _HEADROOM / (clients * value_range)


def quantize(values: np.ndarray, scale: float, value_range: float) -> np.ndarray:
    """float -> ring element; values beyond the range are clipped to it."""
    fixed = np.multiply(values, scale, dtype=np.float64)
    limit = value_range * scale  # at most 2^31 - 1: fits int32, whose bits are the ring's
    np.clip(fixed, -limit, limit, out=fixed)
    np.rint(fixed, out=fixed)
    return fixed.astype(np.int32).view(RING)


def dequantize(total: np.ndarray, scale: float) -> np.ndarray:
    """ring element (a sum of quantized values) -> float64, read as a signed 32-bit number."""
    return total.astype(RING).view(np.int32).astype(np.float64) / scale


def expand(seed: bytes, length: int) -> np.ndarray:
    """A pseudo-random ring vector from a 32-byte seed (AES-256-CTR keystream)."""
    if len(seed) != 32:
        raise SecAggError("A mask seed is 32 bytes.")
    encryptor = Cipher(algorithms.AES(seed), modes.CTR(bytes(16))).encryptor()
    return np.frombuffer(encryptor.update(_zeros(4 * length)), dtype="<u4").astype(RING, copy=False)


@functools.lru_cache(maxsize=4)
def _zeros(size: int) -> bytes:
    """The keystream is AES-CTR over zeros: one zero buffer per vector length."""
    return bytes(size)


def derive(secret: bytes, context: bytes, label: str) -> bytes:
    """A 32-byte key for one purpose, bound to the job and round (`context`)."""
    return HKDF(hashes.SHA256(), 32, salt=context, info=label.encode()).derive(secret)


def public_bytes(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def pair_seed(mine: X25519PrivateKey, theirs: bytes, context: bytes, a: int, b: int) -> bytes:
    """The seed two clients share for their pairwise mask; the same from either side."""
    shared = mine.exchange(X25519PublicKey.from_public_bytes(theirs))
    low, high = sorted((a, b))
    return derive(shared, context, f"dain secagg pair mask {low} {high}")


def neighbours(clients: int, degree: int, seed: bytes) -> list[set[int]]:
    """SecAgg+ communication graph (Bell et al. 2020): a Harary graph of the given even
    degree over a random order of clients 0..n-1, so each client masks with and shares
    its secrets among `degree` others instead of all n - 1. Degree >= n - 1 gives the
    complete graph of the original protocol."""
    if degree >= clients - 1:
        return [set(range(clients)) - {i} for i in range(clients)]
    if degree < 2 or degree % 2:
        raise SecAggError("The SecAgg+ graph degree must be even and at least 2.")
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed).digest()[:8], "big"))
    order = rng.permutation(clients)
    position = np.argsort(order)
    graph: list[set[int]] = [set() for _ in range(clients)]
    for i in range(clients):
        p = position[i]
        for step in range(1, degree // 2 + 1):
            for q in ((p + step) % clients, (p - step) % clients):
                graph[i].add(int(order[q]))
    return graph


def default_degree(clients: int) -> int:
    """A neighbourhood of about 2 log2(n) + 2 clients (even), the complete graph for small n."""
    degree = 2 * math.ceil(math.log2(max(clients, 2))) + 2
    degree += degree % 2
    return min(degree, clients - 1)
