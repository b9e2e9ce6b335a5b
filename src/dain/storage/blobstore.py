"""Content-addressed blob stores: bytes go in, their CIDv1 (as IPFS gives it) comes out, and
reads verify."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol

from dain.storage.cid import check_cid, cid_of, verify
from dain.storage.errors import BlobNotFound


class BlobStore(Protocol):
    def put(self, data: bytes) -> str: ...

    def get(self, cid: str) -> bytes: ...

    def has(self, cid: str) -> bool: ...

    def delete(self, cid: str) -> int:
        """Removes the blob; returns how many bytes it held (0 if it was not here)."""
        ...


class MemoryBlobStore:
    """Blobs in a dict; for in-process networks and tests."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        cid = cid_of(data)
        self._blobs[cid] = bytes(data)
        return cid

    def get(self, cid: str) -> bytes:
        try:
            return self._blobs[cid]
        except KeyError:
            raise BlobNotFound(cid) from None

    def has(self, cid: str) -> bool:
        return cid in self._blobs

    def delete(self, cid: str) -> int:
        return len(self._blobs.pop(cid, b""))


class FileBlobStore:
    """One file per blob under `root`, named by its content id; reads re-verify the hash."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, cid: str) -> Path:
        check_cid(cid)  # refuses anything that is not a content id, so no path tricks
        return self.root / cid

    def put(self, data: bytes) -> str:
        cid = cid_of(data)
        path = self._path(cid)
        if not path.exists():
            # write-then-rename so a crash never leaves a truncated blob under a valid name
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        return cid

    def get(self, cid: str) -> bytes:
        path = self._path(cid)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(cid) from None
        verify(cid, data)
        return data

    def has(self, cid: str) -> bool:
        return self._path(cid).exists()

    def delete(self, cid: str) -> int:
        path = self._path(cid)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size
