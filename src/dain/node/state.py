"""A node's durable memory (SQLite): its data assets, and every update it trained and sent,
so a restarted node resumes a job without training or submitting anything twice; and the
envelopes it took while they are fresh, so a restart does not open it to replays."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dain.data import ConsentPolicy
from dain.node.database import open_database
from dain.node.nonces import NonceLimits, Remembered

_SCHEMA = """
CREATE TABLE IF NOT EXISTS assets (
    asset_id TEXT PRIMARY KEY,      -- hex; ids exceed SQLite's integers
    title TEXT NOT NULL,
    csv_path TEXT NOT NULL,         -- the raw data stays where it is; never copied
    target TEXT NOT NULL,
    salt TEXT NOT NULL,             -- keeps the manifest's data commitment unguessable
    policy TEXT NOT NULL,           -- the owner's copy of the consent policy (JSON)
    load_options TEXT NOT NULL DEFAULT '{}'  -- how the data is read again (JSON; images' size)
);
CREATE TABLE IF NOT EXISTS updates (
    job_id INTEGER NOT NULL,
    round INTEGER NOT NULL,
    asset_id TEXT NOT NULL,
    update_cid TEXT NOT NULL,
    num_examples INTEGER NOT NULL,
    receipt_signature TEXT NOT NULL,
    PRIMARY KEY (job_id, round, asset_id)
);
CREATE TABLE IF NOT EXISTS deliveries (
    job_id INTEGER NOT NULL,
    round INTEGER NOT NULL,
    asset_id TEXT NOT NULL,
    aggregator TEXT NOT NULL,
    PRIMARY KEY (job_id, round, asset_id, aggregator)
);
CREATE TABLE IF NOT EXISTS nonces (  -- envelopes taken, kept while they are fresh (nonces.py)
    sender TEXT NOT NULL,
    nonce TEXT NOT NULL,
    timestamp INTEGER NOT NULL,     -- the envelope's own; forgotten once it would be stale
    PRIMARY KEY (sender, nonce)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS nonces_by_age ON nonces (timestamp);
CREATE TABLE IF NOT EXISTS releases (  -- private updates made for release: the privacy spent
    job_id INTEGER NOT NULL,
    round INTEGER NOT NULL,
    asset_id TEXT NOT NULL,
    PRIMARY KEY (job_id, round, asset_id)
);
"""


@dataclass(frozen=True)
class StoredAsset:
    asset_id: int
    title: str
    csv_path: Path
    target: str
    salt: bytes
    policy: ConsentPolicy
    # what dain.data.load_asset needs besides path and target to read the same rows again
    # (an image folder's size and channels); {} for a table
    load_options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredUpdate:
    update_cid: str
    num_examples: int
    receipt_signature: bytes


class NodeState:
    def __init__(self, path: Path) -> None:
        self._db = open_database(path, _SCHEMA)
        self._lock = threading.Lock()
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(assets)")}
        if "load_options" not in columns:  # a database from before images and arrays
            try:
                self._db.execute(
                    "ALTER TABLE assets ADD COLUMN load_options TEXT NOT NULL DEFAULT '{}'"
                )
            except sqlite3.OperationalError as exc:  # another process added it meanwhile
                if "duplicate column" not in str(exc):
                    raise

    def add_asset(self, asset: StoredAsset) -> None:
        policy = asset.policy.to_dict()
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO assets (asset_id, title, csv_path, target, salt, policy, "
                "load_options) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (hex(asset.asset_id), asset.title, str(asset.csv_path), asset.target,
                 asset.salt.hex(), json.dumps(policy), json.dumps(asset.load_options)),
            )  # fmt: skip

    def set_policy(self, asset_id: int, policy: ConsentPolicy) -> None:
        asset = next(a for a in self.assets() if a.asset_id == asset_id)
        self.add_asset(replace(asset, policy=policy))

    def assets(self) -> list[StoredAsset]:
        with self._lock:
            rows = self._db.execute(
                "SELECT asset_id, title, csv_path, target, salt, policy, load_options "
                "FROM assets ORDER BY asset_id"
            ).fetchall()
        return [
            StoredAsset(int(a, 16), title, Path(path), target, bytes.fromhex(salt),
                        ConsentPolicy.from_dict(json.loads(policy)), json.loads(options))
            for a, title, path, target, salt, policy, options in rows
        ]  # fmt: skip

    def update(self, job_id: int, round: int, asset_id: int) -> StoredUpdate | None:
        with self._lock:
            row = self._db.execute(
                "SELECT update_cid, num_examples, receipt_signature FROM updates "
                "WHERE job_id = ? AND round = ? AND asset_id = ?",
                (job_id, round, hex(asset_id)),
            ).fetchone()
        return None if row is None else StoredUpdate(row[0], row[1], bytes.fromhex(row[2]))

    def save_update(self, job_id: int, round: int, asset_id: int, update: StoredUpdate) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO updates VALUES (?, ?, ?, ?, ?, ?)",
                (job_id, round, hex(asset_id), update.update_cid, update.num_examples,
                 update.receipt_signature.hex()),
            )  # fmt: skip

    def delivered(self, job_id: int, round: int, asset_id: int, aggregator: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM deliveries WHERE job_id = ? AND round = ? AND asset_id = ? "
                "AND aggregator = ?",
                (job_id, round, hex(asset_id), aggregator),
            ).fetchone()
        return row is not None

    def mark_delivered(self, job_id: int, round: int, asset_id: int, aggregator: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO deliveries VALUES (?, ?, ?, ?)",
                (job_id, round, hex(asset_id), aggregator),
            )

    def deliveries(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0])

    def record_release(self, job_id: int, round: int, asset_id: int) -> None:
        """A private update of the asset was made for this round: its privacy is spent,
        whether or not the round is ever recorded."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO releases VALUES (?, ?, ?)", (job_id, round, hex(asset_id))
            )

    def releases(self, job_id: int, asset_id: int, *, besides: int = 0) -> int:
        """Rounds of the job, other than round `besides`, this node made a private update of
        the asset for."""
        with self._lock:
            query = "SELECT COUNT(*) FROM releases WHERE job_id = ? AND asset_id = ? AND round != ?"
            return _count(self._db, query, (job_id, hex(asset_id), besides))

    def remember_nonce(
        self, sender: str, nonce: str, timestamp: int, *, forget_before: int, limits: NonceLimits
    ) -> Remembered:
        """`NonceStore.remember_nonce`, kept in state.db so it holds across restarts. The
        lock orders this process's threads; BEGIN IMMEDIATE orders other processes that
        open the same file, so one check-and-remember never interleaves with another."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("DELETE FROM nonces WHERE timestamp < ?", (forget_before,))
                seen = db.execute(
                    "SELECT 1 FROM nonces WHERE sender = ? AND nonce = ?", (sender, nonce)
                ).fetchone()
                if seen is not None:
                    answer = Remembered.SEEN
                elif (
                    _count(db, "SELECT COUNT(*) FROM nonces WHERE sender = ?", (sender,))
                    >= limits.per_sender
                    or _count(db, "SELECT COUNT(*) FROM nonces", ()) >= limits.total
                ):
                    answer = Remembered.FULL
                else:
                    db.execute("INSERT INTO nonces VALUES (?, ?, ?)", (sender, nonce, timestamp))
                    answer = Remembered.NEW
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return answer

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _count(db: sqlite3.Connection, query: str, args: tuple[object, ...]) -> int:
    return int(db.execute(query, args).fetchone()[0])
