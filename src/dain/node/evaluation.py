"""Federated evaluation at a node (issue 13, point 3): how good each round's model is.

- As a participant: once a round is recorded, the node scores the round's model on the
  held-out rows of each of its assets in the job whose consent still allows the job
  (`LocalAsset.held_out`: rows no model was trained on) and sends each asset's metrics,
  signed, to the job's requester (`dain.node.reports`). Each report is made once (the state
  database remembers it) and sent until the requester takes or refuses it.
- As the requester: it takes those reports after checking them (`accept`) and keeps each
  with its signed bytes; and, given an evaluation set of its own for the job
  (`set_evaluation`), it scores every round's model on it as rounds are recorded.

`summary` gives, per round, the requester's metrics, the participants' combined by examples
and how many reports made them. The reports are a few numbers about rows nobody trained
on; they carry no differential-privacy noise (a job's privacy budget covers training)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dain.data import (
    CsvSchema,
    Dataset,
    DatasetError,
    conform,
    format_asset_id,
    load_asset,
    load_csv,
)
from dain.errors import DainError
from dain.learning import Metrics, MetricsError, combine, evaluate
from dain.ledger import JobInfo, RoundInfo
from dain.node.blob_access import finished
from dain.node.context import NodeContext
from dain.node.envelope import Envelope, MessageKind
from dain.node.errors import (
    EnvelopeError,
    Forbidden,
    PeerNotReady,
    PeerUnavailable,
    ProtocolError,
)
from dain.node.evaluation_store import EvaluationStore, MadeReport, StoredReport
from dain.node.intake import Intake
from dain.node.models import JobModels
from dain.node.reports import check_report, read_report, seal_report
from dain.node.spec import JobSpec
from dain.node.training import LocalTrainer

log = logging.getLogger(__name__)
RETRY_SECONDS = 30.0  # a requester out of reach, or a job whose scoring failed, waits this
MAX_CACHED = 4096  # chain facts kept (round records, past holders): they never change


@dataclass(frozen=True)
class RoundMetrics:
    """How a round's model scored: on the requester's own rows, and on the participants'
    held-out rows combined by examples (`dain.learning.combine`) from `reports` reports."""

    round: int
    model_cid: str
    requester: Metrics | None
    federated: Metrics | None
    reports: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "model_cid": self.model_cid,
            "requester": None if self.requester is None else self.requester.to_dict(),
            "federated": None if self.federated is None else self.federated.to_dict(),
            "reports": self.reports,
        }


class Evaluation:
    def __init__(
        self,
        ctx: NodeContext,
        intake: Intake,
        models: JobModels,
        trainer: LocalTrainer,
        store: EvaluationStore,
    ) -> None:
        self.ctx = ctx
        self.intake = intake
        self.models = models
        self.trainer = trainer
        self.store = store
        self._done_to: dict[tuple[str, int], int] = {}  # (role, job) -> last round handled
        self._over: set[tuple[str, int]] = set()  # ... with every round handled, for good
        self._paused: dict[tuple[str, int], float] = {}  # ... failed: not before (monotonic)
        self._retry_at: dict[str, float] = {}  # requester out of reach -> not before
        self._sets: dict[int, tuple[tuple[Path, str], Dataset]] = {}
        self._records: dict[tuple[int, int], RoundInfo] = {}
        self._holders: dict[tuple[int, int], str] = {}
        self._lock = threading.Lock()  # `accept` runs in request threads

    # ---- the requester's own rows ------------------------------------------------------

    def set_evaluation(self, job_id: int, csv_path: Path, target: str) -> None:
        """Scores every round of the job (this node's) on the CSV file's rows from now on;
        the file is read here first, so a path, column or schema that does not fit the job
        fails now, not rounds later."""
        job = self.ctx.ledger.jobs.job(job_id)
        if job.requester != self.ctx.address:
            raise Forbidden(
                f"Job {job_id} is {job.requester}'s; this node scores only its own jobs.",
                hint="Set the evaluation data on the requester's node.",
            )
        path = Path(csv_path).resolve()
        rows = evaluation_rows(path, target, self.models.spec(job))
        self.store.set_evaluation(job_id, path, target)
        with self._lock:
            self._sets[job_id] = ((path, target), rows)
            self._over.discard(("requester", job_id))

    def _rows_of(self, job: JobInfo) -> Dataset:
        found = self.store.evaluation_set(job.job_id)
        if found is None:
            raise ProtocolError(f"Job {job.job_id} has no evaluation set here.")
        with self._lock:
            cached = self._sets.get(job.job_id)
        if cached is not None and cached[0] == found:
            return cached[1]
        rows = evaluation_rows(found[0], found[1], self.models.spec(job))
        with self._lock:
            self._sets[job.job_id] = (found, rows)
        return rows

    # ---- the runner's step -------------------------------------------------------------

    def step(self, job_ids: Iterable[int]) -> None:
        """Scores the recorded rounds not scored yet: for the jobs `job_ids` this node's
        assets are in, on their held-out rows; for this node's own jobs, on its evaluation
        set. Then sends the reports the requesters do not have yet. A failure is logged
        and tried again later; it never holds up training."""
        for job_id in job_ids:
            self._guarded("participant", job_id, self._report_rounds)
        for job_id in self.store.evaluation_jobs():
            self._guarded("requester", job_id, self._score_rounds)
        self._deliver()

    def _guarded(self, role: str, job_id: int, work: Callable[[JobInfo, int], int]) -> None:
        key = (role, job_id)
        if key in self._over or time.monotonic() < self._paused.get(key, 0.0):
            return
        try:
            # read afresh: a copy cached while the round ran misses its record
            job = self.ctx.ledger.jobs.job(job_id)
            done = self._done_to.get(key)
            if done is None:
                done = self._done_before(role, job_id)
            if job.current_round > done:
                done = work(job, done)
                self._done_to[key] = done
            if finished(job) and done >= job.current_round:
                self._over.add(key)  # no round will be recorded again
        except Exception as exc:  # the chain, a peer, or a bug: never the runner's problem
            log.warning("%s: job %d: evaluation as %s failed: %s", self.ctx.name, job_id, role,
                        exc, exc_info=not isinstance(exc, DainError))  # fmt: skip
            self._paused[key] = time.monotonic() + RETRY_SECONDS

    def _done_before(self, role: str, job_id: int) -> int:
        """The last round handled before this process started (from the state database)."""
        if role == "participant":
            return self.store.last_round_made(job_id)
        return max(self.store.evaluations(job_id), default=0)

    def _model(self, job: JobInfo, round: int, spec: JobSpec) -> tuple[str, Any]:
        """Round `round`'s model: its content id and parameters (rebuilt from a hand-out,
        or fetched from the job's peers, as the current model is)."""
        cid = self._record(job.job_id, round).model_cid
        return cid, self.models.global_model(replace(job, model_cid=cid), spec)

    def _report_rounds(self, job: JobInfo, done: int) -> int:
        """Makes the reports of the rounds after `done`; the last round handled."""
        assets = [a for a in self.trainer.consenting_assets(job) if len(a.held_out)]
        if not assets:
            return job.current_round  # nothing here may score this job's models now
        spec = self.models.spec(job)
        for round in range(done + 1, job.current_round + 1):
            pending = [a for a in assets if not self.store.made(job.job_id, round, a.asset_id)]
            if pending:
                cid, params = self._model(job, round, spec)
            for asset in pending:
                try:
                    held = self.trainer.rows(job, asset, held_out=True)
                    metrics: Metrics | None = evaluate(spec.model, params, held.x, held.y)
                except (MetricsError, DatasetError) as exc:  # rows that do not fit: no report
                    log.warning("%s: asset %x cannot score job %d's model: %s", self.ctx.name,
                                asset.asset_id, job.job_id, exc)  # fmt: skip
                    metrics = None
                self.store.save_made(MadeReport(job.job_id, round, asset.asset_id,
                                                job.requester, cid, metrics))  # fmt: skip
                log.info("%s: job %d, round %d: scored the model on asset %x's %d held-out "
                         "rows", self.ctx.name, job.job_id, round, asset.asset_id,
                         len(held))  # fmt: skip
        return job.current_round

    def _score_rounds(self, job: JobInfo, done: int) -> int:
        """Scores the rounds after `done` on the requester's own rows; the last scored."""
        if job.requester != self.ctx.address:
            return job.current_round  # not this node's job (its key changed?): nothing to do
        rows, spec = self._rows_of(job), self.models.spec(job)
        for round in range(done + 1, job.current_round + 1):
            cid, params = self._model(job, round, spec)
            metrics = evaluate(spec.model, params, rows.x, rows.y)
            self.store.save_evaluation(job.job_id, round, cid, metrics)
            done = round
            log.info("%s: job %d, round %d: the model scores %s on the requester's %d rows",
                     self.ctx.name, job.job_id, round, _brief(metrics), len(rows))  # fmt: skip
        return done

    def _deliver(self) -> None:
        """Sends each report the requester has not taken yet; one out of reach is tried
        again after RETRY_SECONDS, one that refuses a report is not asked again."""
        ledger = self.ctx.ledger
        for made in self.store.undelivered():
            if time.monotonic() < self._retry_at.get(made.requester, 0.0):
                continue
            assert made.metrics is not None  # undelivered() gives only reports with metrics
            # sealed afresh at each try: a receiver refuses envelopes older than minutes
            data = seal_report(ledger.identity, ledger.chain_id, made.job_id, made.round,
                               made.asset_id, made.model_cid, made.metrics)  # fmt: skip
            try:
                if made.requester == self.ctx.address:
                    self.accept(data)
                else:
                    self.ctx.peers.post(made.requester, "/metrics", data)
            except (PeerUnavailable, PeerNotReady) as exc:
                log.info("%s: could not report to %s: %s", self.ctx.name, made.requester, exc)
                self._retry_at[made.requester] = time.monotonic() + RETRY_SECONDS
                continue
            except DainError as exc:  # refused: sending it again cannot help
                log.warning("%s: job %d's requester refused a report: %s", self.ctx.name,
                            made.job_id, exc)  # fmt: skip
            self.store.mark_delivered(made.job_id, made.round, made.asset_id)

    # ---- the requester's side: reports ---------------------------------------------------

    def accept(self, body: bytes) -> dict[str, Any]:
        """Takes a participant's report if it holds (`dain.node.reports`), for a job of this
        node's, from a member, fresh and never seen; keeps it with its signed bytes."""
        report = read_report(body, self.ctx.ledger.chain_id)
        envelope = Envelope.from_bytes(body)
        self.intake.guard.check_fresh(envelope)
        chain = self.ctx.chain
        if not chain.is_member(report.sender):
            raise EnvelopeError(f"{report.sender} is not a registered member.")
        job = chain.job(report.job_id)
        if job.requester != self.ctx.address:
            raise ProtocolError(f"This node is not the requester of job {report.job_id}.")
        if report.round > job.current_round:  # the copy kept may predate the round's record
            job = self.ctx.ledger.jobs.job(report.job_id)
        check_report(report, job, lambda r: self._record(job.job_id, r), chain.enrolled(job),
                     self._holder_at, chain.rows)  # fmt: skip
        self.intake.guard.check(envelope)  # remembered last: only reports that hold take room
        stored = StoredReport(report.job_id, report.round, report.asset_id, report.sender,
                              report.model_cid, report.metrics, body)  # fmt: skip
        answer: dict[str, Any] = {"accepted": True, "job_id": report.job_id,
                                  "round": report.round, "asset_id": str(report.asset_id)}
        if self.store.add_report(stored):
            return answer
        held = next(r for r in self.store.reports(report.job_id, report.round)
                    if r.asset_id == report.asset_id)  # fmt: skip
        if (held.model_cid, held.metrics) == (report.model_cid, report.metrics):
            return answer | {"duplicate": True}  # sent again after a crash: already here
        raise ProtocolError(
            f"Asset {format_asset_id(report.asset_id)} already reported round {report.round} "
            f"of job {report.job_id}."
        )

    def _record(self, job_id: int, round: int) -> RoundInfo:
        with self._lock:
            found = self._records.get((job_id, round))
        if found is None:
            found = self.ctx.ledger.jobs.round_record(job_id, round)
            with self._lock:
                if len(self._records) >= MAX_CACHED:
                    self._records.clear()
                self._records[(job_id, round)] = found
        return found

    def _holder_at(self, asset_id: int, block: int) -> str:
        with self._lock:
            found = self._holders.get((asset_id, block))
        if found is None:
            found = self.ctx.ledger.assets.holder_at(asset_id, block)
            with self._lock:
                if len(self._holders) >= MAX_CACHED:
                    self._holders.clear()
                self._holders[(asset_id, block)] = found
        return found

    # ---- what the requester sees ---------------------------------------------------------

    def summary(self, job_id: int) -> list[RoundMetrics]:
        """Per round scored or reported: see `summarize`."""
        return summarize(self.store, job_id)

    def read(self, header: bytes, job_id: int) -> dict[str, Any]:
        """`summary` for a request signed by the job's requester (its command line)."""
        envelope, sender = self.intake.signed(header, MessageKind.METRICS_READ)
        if envelope.job_id != job_id:
            raise ProtocolError(f"The request is signed for job {envelope.job_id}, not {job_id}.")
        if sender != self.ctx.chain.job(job_id).requester:
            raise Forbidden(f"Only job {job_id}'s requester may read its metrics here.")
        return {"job_id": job_id, "rounds": [r.to_dict() for r in self.summary(job_id)]}


def summarize(store: EvaluationStore, job_id: int) -> list[RoundMetrics]:
    """Per round scored or reported: the requester's metrics, the participants' combined
    by examples, and how many reports made them."""
    own = store.evaluations(job_id)
    reports: dict[int, list[StoredReport]] = {}
    for report in store.reports(job_id):
        reports.setdefault(report.round, []).append(report)
    found = []
    for round in sorted(set(own) | set(reports)):
        taken = reports.get(round, [])
        cid = own[round][0] if round in own else taken[0].model_cid
        federated = combine([r.metrics for r in taken]) if taken else None
        found.append(RoundMetrics(round, cid, own[round][1] if round in own else None,
                                  federated, len(taken)))  # fmt: skip
    return found


def home_metrics(state: Path, job_id: int) -> list[RoundMetrics]:
    """`summarize` from a node home's state database, read while its node may be running
    (what `dain job watch` shows the requester)."""
    return summarize(EvaluationStore(state), job_id)


def evaluation_rows(path: Path, target: str, spec: JobSpec) -> Dataset:
    """A requester's data (a CSV or Parquet table, arrays, an image folder) as the job's
    model reads it: conformed to the job's input schema (columns in its order, class labels
    as indices into its classes, images resized, series cut into windows)."""
    schema = spec.input
    if schema is None and spec.model.is_regression:  # read the target as numbers
        header = load_csv(path, target)
        schema = CsvSchema(header.feature_names, target, regression=True)
    if schema is not None and schema.kind != "table":
        rows = load_asset(path, None if schema.kind == "image" else target)
    else:
        rows = load_asset(path, target) if path.suffix.lower() != ".csv" else load_csv(
            path, target, schema)
    if schema is not None:
        rows = conform(rows, schema)
    x, y = rows.x, rows.y
    if not spec.model.is_regression and len(y) and y.max() >= spec.model.num_classes:
        raise DatasetError(
            f"{path}: column '{target}' has more classes than the job's model "
            f"({spec.model.num_classes}).",
            hint="Use a file whose target takes only the job's classes.",
        )
    if tuple(x.shape[1:]) != spec.model.example_shape:
        raise DatasetError(
            f"{path} holds examples of shape {list(x.shape[1:])}; the job's model reads "
            f"{list(spec.model.example_shape)}.",
            hint="Use data with the job's input columns (or image size).",
        )
    return rows


def _brief(metrics: Metrics) -> str:
    return ", ".join(f"{name} {value:.3f}" for name, value in metrics.scores().items())
