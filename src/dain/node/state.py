"""A node's durable memory (SQLite): its data assets, and every update it trained and sent,
so a restarted node resumes a job without training or submitting anything twice."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from dain.data import ConsentPolicy

_SCHEMA = """
CREATE TABLE IF NOT EXISTS assets (
    asset_id TEXT PRIMARY KEY,      -- hex; ids exceed SQLite's integers
    title TEXT NOT NULL,
    csv_path TEXT NOT NULL,         -- the raw data stays where it is; never copied
    target TEXT NOT NULL,
    salt TEXT NOT NULL,             -- keeps the manifest's data commitment unguessable
    policy TEXT NOT NULL            -- the owner's copy of the consent policy (JSON)
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
"""


@dataclass(frozen=True)
class StoredAsset:
    asset_id: int
    title: str
    csv_path: Path
    target: str
    salt: bytes
    policy: ConsentPolicy


@dataclass(frozen=True)
class StoredUpdate:
    update_cid: str
    num_examples: int
    receipt_signature: bytes


class NodeState:
    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.executescript(_SCHEMA)

    def add_asset(self, asset: StoredAsset) -> None:
        policy = asset.policy.to_dict()
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO assets VALUES (?, ?, ?, ?, ?, ?)",
                (hex(asset.asset_id), asset.title, str(asset.csv_path), asset.target,
                 asset.salt.hex(), json.dumps(policy)),
            )  # fmt: skip

    def set_policy(self, asset_id: int, policy: ConsentPolicy) -> None:
        asset = next(a for a in self.assets() if a.asset_id == asset_id)
        self.add_asset(StoredAsset(asset.asset_id, asset.title, asset.csv_path, asset.target,
                                   asset.salt, policy))  # fmt: skip

    def assets(self) -> list[StoredAsset]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM assets ORDER BY asset_id").fetchall()
        return [
            StoredAsset(int(a, 16), title, Path(path), target, bytes.fromhex(salt),
                        ConsentPolicy.from_dict(json.loads(policy)))
            for a, title, path, target, salt, policy in rows
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

    def close(self) -> None:
        with self._lock:
            self._db.close()
