"""Blob content ids are what `ipfs add --cid-version 1 --raw-leaves` gives the same bytes,
so a blob can be pinned on IPFS as it is: raw up to one block (256 KiB), a UnixFS tree
above. The reference is the npm package ipfs-unixfs-importer (js-ipfs's importer, whose
defaults for CIDv1 are kubo's: 256 KiB chunks, raw leaves, balanced trees of 174 links),
pinned in package.json; the CIDs written here are what it gave, and one test recomputes
them with it."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multiformats import CID, multihash

from dain.storage import (
    CHUNK_SIZE,
    CidError,
    FileBlobStore,
    IntegrityError,
    MemoryBlobStore,
    check_cid,
    cid_from_digest,
    cid_of,
    content_hash,
    digest_of,
    verify,
)

ROOT = Path(__file__).resolve().parents[2]
MIB = 2**20
LINKS = 174  # children per node: 174 chunks fill one node, 175 need a second level
# bytes -> CID, from ipfs-unixfs-importer 17.1.1 with { cidVersion: 1, rawLeaves: true }
REFERENCE = {
    0: "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
    1: "bafkreidogqfzz75tpkmjzjke425xqcrmpcib2p5tg44hnbirumdbpl5adu",
    CHUNK_SIZE: "bafkreicyf2rsjlabvogs5vfihpzfegm2q5hjwrohaneftr2crm6gsnlznm",
    CHUNK_SIZE + 1: "bafybeidgoqoyg4yhalu6oks2gnsjbs74tnoepwkl77plj4i4rd6lhvt424",
    MIB: "bafybeihhxrmvgdab4vq33teqxgtm3ijzq2kncf3pk43mghfm23vgqebg2i",
    LINKS * CHUNK_SIZE: "bafybeictnhkryr6nrwjc27yponmmlpktev4dnsvngaji55edlddqcrcwqu",
    LINKS * CHUNK_SIZE + 1: "bafybeibceeiwyvx3pxrrewxawlbhjvw5ia7lqgj7pt6zjsw56m6vxph5dq",
    45 * MIB: "bafybeig6ewsvihn5rryjippocci5ajfty6sf6jc7ufei2kociko6sayfym",
}


def pattern(size: int) -> bytes:
    """Cheap deterministic bytes that differ between chunks (the reference makes the same:
    byte i is (31 i + i // 256) mod 256)."""
    i = np.arange(size, dtype=np.int64)
    return ((i * 31 + (i >> 8)) & 0xFF).astype(np.uint8).tobytes()


@pytest.mark.parametrize("size", sorted(REFERENCE))
def test_cid_of_is_what_ipfs_add_gives(size: int) -> None:
    assert cid_of(pattern(size)) == REFERENCE[size]


REFERENCE_JS = """
const sizes = JSON.parse(process.argv[1]);
import("ipfs-unixfs-importer").then(async ({ importer }) => {
  const blockstore = { put: async (cid) => cid };  // the CIDs are all we want
  const out = {};
  for (const size of sizes) {
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 31 + Math.floor(i / 256)) & 0xff;
    for await (const entry of importer([{ content: bytes }], blockstore,
                                       { cidVersion: 1, rawLeaves: true })) {
      out[size] = entry.cid.toString();
    }
  }
  console.log(JSON.stringify(out));
}).catch((e) => { console.error(e); process.exit(1); });
"""


@pytest.mark.node
def test_the_reference_cids_come_from_ipfs_unixfs_importer() -> None:
    done = subprocess.run(["node", "-e", REFERENCE_JS, json.dumps(sorted(REFERENCE))],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert {int(k): v for k, v in json.loads(done.stdout).items()} == REFERENCE


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=2048), st.integers(0, 2 * CHUNK_SIZE))
def test_one_block_is_its_raw_cid_and_more_is_a_tree(head: bytes, extra: int) -> None:
    data = head + pattern(extra)
    cid = cid_of(data)

    verify(cid, data)
    if len(data) <= CHUNK_SIZE:  # what receipts sign is the digest inside the id
        assert cid == cid_from_digest(content_hash(data))
        assert digest_of(cid) == hashlib.sha256(data).digest()
    else:
        assert cid.startswith("bafybei")
        with pytest.raises(CidError, match="only from the bytes"):
            digest_of(cid)


def test_a_tree_cid_refuses_bytes_changed_anywhere() -> None:
    data = bytearray(pattern(MIB + 5))
    cid = cid_of(bytes(data))
    for where in (0, CHUNK_SIZE, MIB + 4):
        changed = bytearray(data)
        changed[where] ^= 1
        with pytest.raises(IntegrityError):
            verify(cid, bytes(changed))
    with pytest.raises(IntegrityError):  # a chunk boundary moved: the same bytes plus one
        verify(cid, bytes(data) + b"\0")


def test_a_raw_cid_of_a_large_blob_still_verifies() -> None:
    # blobs over 256 KiB were once named by the raw CID of their bytes: they stay readable
    data = pattern(MIB)
    verify(cid_from_digest(content_hash(data)), data)


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_blob_stores_keep_large_blobs_under_their_ipfs_cid(kind: str, tmp_path: Path) -> None:
    store = MemoryBlobStore() if kind == "memory" else FileBlobStore(tmp_path)
    data = pattern(MIB)

    cid = store.put(data)

    assert cid == REFERENCE[MIB]
    assert store.has(cid) and store.get(cid) == data


def test_file_store_detects_a_tampered_large_blob(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    cid = store.put(pattern(MIB))
    (tmp_path / cid).write_bytes(pattern(MIB - 1) + b"\xff")

    with pytest.raises(IntegrityError):
        store.get(cid)


def test_only_cidv1_sha256_raw_or_dag_pb_ids_are_taken() -> None:
    check_cid(REFERENCE[0])
    check_cid(REFERENCE[MIB])
    for bad in (
        "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",  # CIDv0
        str(CID("base32", 1, "dag-cbor", multihash.wrap(bytes(32), "sha2-256"))),
        str(CID("base32", 1, "raw", multihash.wrap(bytes(20), "sha1"))),
        "not-a-cid",
    ):
        with pytest.raises(CidError):
            check_cid(bad)
