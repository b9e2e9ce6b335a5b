"""What each blob in a node's store is: its kind, the job and round it belongs to, who sent
it and how large it is. Access, quotas and retention are decided from this index, so a
blob nobody indexed is served to nobody. Kept in the node's state database (its own
table), or in memory for in-process networks."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from dain.node.database import open_database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS blob_index (
    cid TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    job_id INTEGER NOT NULL,       -- 0: belongs to no job (a document)
    round INTEGER NOT NULL,        -- 0: belongs to no round
    sender TEXT NOT NULL,          -- the member who uploaded it; '' if made here
    size INTEGER NOT NULL,
    stored_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS blob_index_sender ON blob_index (sender);
CREATE INDEX IF NOT EXISTS blob_index_job ON blob_index (job_id);
CREATE TABLE IF NOT EXISTS jobs_finished (
    job_id INTEGER PRIMARY KEY,
    seen_at REAL NOT NULL          -- when this node first saw the job over (unix seconds)
);
"""


class BlobKind(StrEnum):
    DOCUMENT = "document"  # an asset's manifest or policy document
    SPEC = "spec"  # a job's specification
    MODEL = "model"  # a round's global model
    HANDOUT = "handout"  # the half-size change from one round's model to the next
    STATE = "state"  # a strategy's server state after a round
    UPDATE = "update"  # one participant's plain update for one round
    MASKED = "masked"  # one participant's masked update for one round

    @property
    def individual(self) -> bool:
        """Whether it is one participant's own contribution (seen only by its aggregator)."""
        return self in (BlobKind.UPDATE, BlobKind.MASKED)


@dataclass(frozen=True)
class BlobTag:
    kind: BlobKind
    job_id: int = 0
    round: int = 0
    sender: str = ""
    size: int = 0


class BlobIndex:
    def __init__(self, path: Path | str = ":memory:") -> None:
        self._db = open_database(path, _SCHEMA)
        self._lock = threading.Lock()

    def tag(self, cid: str, tag: BlobTag, now: float | None = None) -> None:
        """Records what `cid` is; the first tag of a blob stands (a re-upload changes
        nothing, so nobody can re-label another's blob)."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO blob_index VALUES (?, ?, ?, ?, ?, ?, ?)",
                (cid, str(tag.kind), tag.job_id, tag.round, tag.sender, tag.size,
                 time.time() if now is None else now),
            )  # fmt: skip

    def tag_of(self, cid: str) -> BlobTag | None:
        with self._lock:
            row = self._db.execute(
                "SELECT kind, job_id, round, sender, size FROM blob_index WHERE cid = ?", (cid,)
            ).fetchone()
        return None if row is None else BlobTag(BlobKind(row[0]), *row[1:])

    def stored_by(self, sender: str) -> int:
        """Bytes `sender` has uploaded that are still stored."""
        with self._lock:
            row = self._db.execute(
                "SELECT COALESCE(SUM(size), 0) FROM blob_index WHERE sender = ?", (sender,)
            ).fetchone()
        return int(row[0])

    def of_job(self, job_id: int) -> list[tuple[str, BlobTag]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT cid, kind, job_id, round, sender, size FROM blob_index WHERE job_id = ?",
                (job_id,),
            ).fetchall()
        return [(r[0], BlobTag(BlobKind(r[1]), *r[2:])) for r in rows]

    def jobs(self) -> list[int]:
        """Jobs that have blobs here."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT job_id FROM blob_index WHERE job_id > 0"
            ).fetchall()
        return [int(r[0]) for r in rows]

    def forget(self, cid: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM blob_index WHERE cid = ?", (cid,))

    def finished_at(self, job_id: int, now: float) -> float:
        """When this node first saw the job over (remembered from the first time asked)."""
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO jobs_finished VALUES (?, ?)", (job_id, now))
            row = self._db.execute(
                "SELECT seen_at FROM jobs_finished WHERE job_id = ?", (job_id,)
            ).fetchone()
        return float(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
