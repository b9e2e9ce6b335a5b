"""Content ids: CIDv1, raw codec, sha2-256, base32 (``bafkrei...``), as IPFS computes them."""

from __future__ import annotations

import hashlib

from multiformats import CID, multihash

from dain.storage.errors import CidError, IntegrityError

_SHA256 = multihash.get("sha2-256")


def cid_of(data: bytes) -> str:
    return str(CID("base32", 1, "raw", _SHA256.digest(data)))


def cid_from_digest(digest: bytes) -> str:
    """The content id of the bytes whose sha2-256 digest is `digest` (as a receipt on chain
    names an update by its hash)."""
    if len(digest) != 32:
        raise CidError("A sha2-256 digest is 32 bytes.")
    return str(CID("base32", 1, "raw", multihash.wrap(digest, "sha2-256")))


def digest_of(cid: str) -> bytes:
    """The 32-byte sha2-256 digest a content id commits to."""
    try:
        parsed = CID.decode(cid)
    except Exception as exc:  # multiformats raises several types for malformed input
        raise CidError(f"'{cid}' is not a content id ({exc}).") from exc
    if parsed.hashfun.name != "sha2-256":
        raise CidError(f"Content id {cid} uses {parsed.hashfun.name}; dain uses sha2-256 only.")
    return bytes(parsed.raw_digest)


def verify(cid: str, data: bytes) -> None:
    if hashlib.sha256(data).digest() != digest_of(cid):
        raise IntegrityError(
            f"The bytes received for {cid} do not match it: the blob is corrupt or forged."
        )
