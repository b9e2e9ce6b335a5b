"""Content ids as IPFS computes them (`ipfs add --cid-version 1 --raw-leaves`), base32:
a blob of at most one block (256 KiB) is a raw block, CIDv1 raw sha2-256
(``bafkrei...``); a larger one is the root of a UnixFS tree of raw blocks, CIDv1 dag-pb
sha2-256 (``bafybei...``). Either way the id commits to the bytes and is checked against
them.

What receipts and round records sign is `content_hash`, the sha2-256 of the bytes. For a
raw id that is the digest inside the id; for a tree it is not, and only the bytes give it.
"""

from __future__ import annotations

import hashlib

from multiformats import CID, multihash

from dain.storage.errors import CidError, IntegrityError
from dain.storage.unixfs import DAG_PB, RAW, binary_cid, root_cid


def cid_of(data: bytes) -> str:
    """The content id IPFS gives `data` (raw up to 256 KiB, else a UnixFS tree's root)."""
    return CID.decode(root_cid(data)).encode("base32")


def content_hash(data: bytes) -> bytes:
    """sha2-256 of the bytes: the hash a receipt or a round record signs for a blob."""
    return hashlib.sha256(data).digest()


def cid_from_digest(digest: bytes) -> str:
    """The raw content id of bytes whose sha2-256 is `digest`. It is the blob's content id
    only if the blob is at most one block (256 KiB): a larger blob's id is its tree's,
    which only the bytes give."""
    if len(digest) != 32:
        raise CidError("A sha2-256 digest is 32 bytes.")
    return str(CID("base32", 1, "raw", multihash.wrap(digest, "sha2-256")))


def check_cid(cid: str) -> None:
    """Refuses anything that is not a CIDv1 sha2-256 id of a raw block or a dag-pb node."""
    _parse(cid)


def digest_of(cid: str) -> bytes:
    """The sha2-256 of the bytes a raw content id names (a blob of at most 256 KiB). A
    tree's id holds the hash of its root node, not of the bytes: CidError."""
    parsed = _parse(cid)
    if parsed.codec.code != RAW:
        raise CidError(
            f"Content id {cid} names a UnixFS tree (a blob over 256 KiB): the hash of its "
            "bytes is known only from the bytes (content_hash)."
        )
    return bytes(parsed.raw_digest)


def verify(cid: str, data: bytes) -> None:
    """Refuses `data` unless `cid` names exactly these bytes: as a raw block (of any size:
    ids stored before blobs over 256 KiB became trees stay readable) or as a UnixFS tree."""
    parsed = _parse(cid)
    if parsed.codec.code == RAW:
        matches = hashlib.sha256(data).digest() == bytes(parsed.raw_digest)
    else:
        matches = root_cid(data) == binary_cid(DAG_PB, bytes(parsed.raw_digest))
    if not matches:
        raise IntegrityError(
            f"The bytes received for {cid} do not match it: the blob is corrupt or forged."
        )


def _parse(cid: str) -> CID:
    try:
        parsed = CID.decode(cid)
    except Exception as exc:  # multiformats raises several types for malformed input
        raise CidError(f"'{cid}' is not a content id ({exc}).") from exc
    if parsed.hashfun.name != "sha2-256":
        raise CidError(f"Content id {cid} uses {parsed.hashfun.name}; dain uses sha2-256 only.")
    if parsed.version != 1 or parsed.codec.code not in (RAW, DAG_PB):
        raise CidError(f"Content id {cid} is not a CIDv1 of a raw block or of a UnixFS node.")
    if len(parsed.raw_digest) != 32:
        raise CidError(f"Content id {cid} holds a truncated sha2-256 digest.")
    return parsed
