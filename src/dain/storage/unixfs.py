"""The content id `ipfs add --cid-version 1 --raw-leaves` gives a file, so any blob dain
stores can be pinned on IPFS as it is: the bytes cut into 256 KiB chunks, each a raw
block, under a balanced tree of UnixFS file nodes in dag-pb of at most 174 links each
(the defaults of kubo and of js-ipfs's importer). A file of one chunk is its raw block.

The two protobuf messages involved are small enough to write by hand (field order as
the dag-pb spec fixes it: links before data; every link with its name, empty here, and
its cumulative size, as kubo writes them):

    PBNode { repeated PBLink Links = 2; optional bytes Data = 1; }
    PBLink { bytes Hash = 1; string Name = 2; uint64 Tsize = 3; }
    UnixFS Data { Type = 1 (2: file); filesize = 3; repeated blocksizes = 4; }
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

CHUNK_SIZE = 262_144  # kubo's default chunker, size-262144
MAX_LINKS = 174  # children per node in kubo's balanced layout
RAW = 0x55
DAG_PB = 0x70
_SHA2_256 = b"\x12\x20"  # multihash: sha2-256, 32 bytes


@dataclass(frozen=True)
class Block:
    """A block of the tree as its parent links to it."""

    cid: bytes  # binary CIDv1
    tree_size: int  # bytes of this block and every block under it (a link's Tsize)
    file_size: int  # bytes of the file under it (a UnixFS blocksize)


def binary_cid(codec: int, digest: bytes) -> bytes:
    """CIDv1 of a sha2-256 `digest` in its binary form (both codecs fit in one byte)."""
    return bytes((1, codec)) + _SHA2_256 + digest


def root_cid(data: bytes | memoryview) -> bytes:
    """The binary CIDv1 of `data` as a UnixFS file with raw leaves: the raw block itself
    for at most one chunk, else the root of the balanced tree over its chunks."""
    view = memoryview(data)
    level = [
        _leaf(view[start : start + CHUNK_SIZE])
        for start in range(0, max(len(view), 1), CHUNK_SIZE)
    ]
    if len(level) == 1:
        return level[0].cid
    while len(level) > 1:
        level = [_parent(level[i : i + MAX_LINKS]) for i in range(0, len(level), MAX_LINKS)]
    return level[0].cid


def _leaf(chunk: memoryview) -> Block:
    return Block(binary_cid(RAW, hashlib.sha256(chunk).digest()), len(chunk), len(chunk))


def _parent(children: list[Block]) -> Block:
    file_size = sum(c.file_size for c in children)
    unixfs = (
        b"\x08\x02"  # Type: file
        + b"\x18" + _varint(file_size)
        + b"".join(b"\x20" + _varint(c.file_size) for c in children)
    )  # fmt: skip
    links = b"".join(
        _bytes_field(2, _bytes_field(1, c.cid) + b"\x12\x00" + b"\x18" + _varint(c.tree_size))
        for c in children
    )
    node = links + _bytes_field(1, unixfs)
    return Block(
        binary_cid(DAG_PB, hashlib.sha256(node).digest()),
        len(node) + sum(c.tree_size for c in children),
        file_size,
    )


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
