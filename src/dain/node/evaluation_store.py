"""What a node keeps of federated evaluation, in its state database (tables of their own), so
a restart neither loses metrics nor scores and reports a round twice:

- as a requester: the evaluation set it scores each round's model with (a CSV path and its
  target column: the rows stay in the file, where the requester keeps them), its own metrics
  per round, and the participants' reports, each with the signed envelope it came in (so
  anyone can later check the owner's signature against the chain);
- as a participant: the metrics it made for each asset and round, and whether the requester
  has them yet."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

from dain.learning import Metrics
from dain.node.database import open_database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS evaluation_sets (  -- a requester's own rows, per job
    job_id INTEGER PRIMARY KEY,
    csv_path TEXT NOT NULL,
    target TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS evaluations (  -- what the requester's rows made of a round's model
    job_id INTEGER NOT NULL,
    round INTEGER NOT NULL,
    model_cid TEXT NOT NULL,
    metrics TEXT NOT NULL,          -- Metrics.to_dict(), JSON
    PRIMARY KEY (job_id, round)
);
CREATE TABLE IF NOT EXISTS metric_reports (  -- participants' reports taken, one per asset
    job_id INTEGER NOT NULL,
    round INTEGER NOT NULL,
    asset_id TEXT NOT NULL,         -- hex
    sender TEXT NOT NULL,
    model_cid TEXT NOT NULL,
    metrics TEXT NOT NULL,
    envelope BLOB NOT NULL,         -- the signed envelope as it arrived: it verifies itself
    PRIMARY KEY (job_id, round, asset_id)
);
CREATE TABLE IF NOT EXISTS metric_reports_made (  -- a participant's own, until delivered
    job_id INTEGER NOT NULL,
    round INTEGER NOT NULL,
    asset_id TEXT NOT NULL,
    requester TEXT NOT NULL,
    model_cid TEXT NOT NULL,
    metrics TEXT NOT NULL,          -- '' when the asset could not score the model
    delivered INTEGER NOT NULL,
    PRIMARY KEY (job_id, round, asset_id)
);
"""


@dataclass(frozen=True)
class StoredReport:
    """A participant's metrics of one round's model on one asset's held-out rows."""

    job_id: int
    round: int
    asset_id: int
    sender: str
    model_cid: str
    metrics: Metrics
    envelope: bytes


@dataclass(frozen=True)
class MadeReport:
    """Metrics this node made for one of its assets (None: it could not score the model)."""

    job_id: int
    round: int
    asset_id: int
    requester: str
    model_cid: str
    metrics: Metrics | None


class EvaluationStore:
    def __init__(self, path: Path | str = ":memory:") -> None:
        self._db = open_database(path, _SCHEMA)
        self._lock = threading.Lock()

    def _rows(self, query: str, args: tuple[object, ...] = ()) -> list[tuple]:  # type: ignore[type-arg]
        with self._lock:
            return self._db.execute(query, args).fetchall()

    def _write(self, query: str, args: tuple[object, ...]) -> int:
        with self._lock:
            return self._db.execute(query, args).rowcount

    # ---- the requester's side ----------------------------------------------------------

    def set_evaluation(self, job_id: int, csv_path: Path, target: str) -> None:
        self._write("INSERT OR REPLACE INTO evaluation_sets VALUES (?, ?, ?)",
                    (job_id, str(csv_path), target))  # fmt: skip

    def evaluation_set(self, job_id: int) -> tuple[Path, str] | None:
        found = self._rows("SELECT csv_path, target FROM evaluation_sets WHERE job_id = ?",
                           (job_id,))  # fmt: skip
        return (Path(found[0][0]), found[0][1]) if found else None

    def evaluation_jobs(self) -> list[int]:
        return [r[0] for r in self._rows("SELECT job_id FROM evaluation_sets ORDER BY job_id")]

    def save_evaluation(self, job_id: int, round: int, model_cid: str, metrics: Metrics) -> None:
        self._write("INSERT OR REPLACE INTO evaluations VALUES (?, ?, ?, ?)",
                    (job_id, round, model_cid, json.dumps(metrics.to_dict())))  # fmt: skip

    def evaluations(self, job_id: int) -> dict[int, tuple[str, Metrics]]:
        """The requester's own metrics of the job's rounds, with the model scored, by round."""
        rows = self._rows("SELECT round, model_cid, metrics FROM evaluations WHERE job_id = ?",
                          (job_id,))  # fmt: skip
        return {r: (cid, Metrics.from_dict(json.loads(m))) for r, cid, m in rows}

    def add_report(self, report: StoredReport) -> bool:
        """Keeps a report; False when the asset already reported that round (kept as was)."""
        return bool(self._write(
            "INSERT OR IGNORE INTO metric_reports VALUES (?, ?, ?, ?, ?, ?, ?)",
            (report.job_id, report.round, hex(report.asset_id), report.sender, report.model_cid,
             json.dumps(report.metrics.to_dict()), report.envelope),
        ))  # fmt: skip

    def reports(self, job_id: int, round: int | None = None) -> list[StoredReport]:
        """The reports taken for the job (or one round of it), by round then asset."""
        query = "SELECT * FROM metric_reports WHERE job_id = ?"
        args: tuple[object, ...] = (job_id,)
        if round is not None:
            query, args = query + " AND round = ?", (job_id, round)
        return [
            StoredReport(j, r, int(a, 16), sender, cid, Metrics.from_dict(json.loads(m)),
                         bytes(envelope))
            for j, r, a, sender, cid, m, envelope in self._rows(query + " ORDER BY round, asset_id",
                                                                args)
        ]  # fmt: skip

    # ---- the participant's side --------------------------------------------------------

    def save_made(self, made: MadeReport) -> None:
        metrics = "" if made.metrics is None else json.dumps(made.metrics.to_dict())
        self._write(
            "INSERT OR IGNORE INTO metric_reports_made VALUES (?, ?, ?, ?, ?, ?, 0)",
            (made.job_id, made.round, hex(made.asset_id), made.requester, made.model_cid, metrics),
        )  # fmt: skip

    def made(self, job_id: int, round: int, asset_id: int) -> bool:
        return bool(self._rows(
            "SELECT 1 FROM metric_reports_made WHERE job_id = ? AND round = ? AND asset_id = ?",
            (job_id, round, hex(asset_id)),
        ))  # fmt: skip

    def last_round_made(self, job_id: int) -> int:
        found = self._rows("SELECT MAX(round) FROM metric_reports_made WHERE job_id = ?",
                           (job_id,))  # fmt: skip
        return int(found[0][0] or 0)

    def undelivered(self) -> list[MadeReport]:
        """Reports made with metrics that the requester has not taken yet, oldest first."""
        rows = self._rows(
            "SELECT job_id, round, asset_id, requester, model_cid, metrics FROM "
            "metric_reports_made WHERE delivered = 0 AND metrics != '' ORDER BY job_id, round"
        )
        return [MadeReport(j, r, int(a, 16), who, cid, Metrics.from_dict(json.loads(m)))
                for j, r, a, who, cid, m in rows]  # fmt: skip

    def mark_delivered(self, job_id: int, round: int, asset_id: int) -> None:
        self._write(
            "UPDATE metric_reports_made SET delivered = 1 "
            "WHERE job_id = ? AND round = ? AND asset_id = ?",
            (job_id, round, hex(asset_id)),
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()
