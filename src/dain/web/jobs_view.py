"""What the "Jobs" pages show, read from the chain and the node: the jobs on the network
(the rows `dain job list` prints), one job's terms and rounds (`job_details`, as `dain job
show` computes them) with the metrics the node keeps, the curves drawn from them, and what
this node may do with the job. Plain data, no HTML, so it can be checked against the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dain.errors import ConfigError
from dain.ledger import JobStatus, UnknownSubject, check_job
from dain.node import SHOWN_METRICS, job_details, job_row, metrics_text
from dain.web.charts import Series, line_chart
from dain.web.owner_view import owned_assets

if TYPE_CHECKING:
    from dain.ledger import JobInfo
    from dain.node import Node

LISTED = 200  # the newest this many jobs; older ones are reached by their address
ENDED = (JobStatus.COMPLETED, JobStatus.CANCELLED)
METRIC_NAMES = {"accuracy": "accuracy", "balanced_accuracy": "balanced accuracy",
                "roc_auc": "ROC AUC", "r2": "R²"}  # fmt: skip


@dataclass(frozen=True)
class Listing:
    """A row of the jobs list; `mine`: this node requested it; `enrolled`: its assets."""

    row: dict[str, Any]
    mine: bool
    enrolled: bool

    @property
    def marks(self) -> str:
        return ", ".join(m for m, on in (("yours", self.mine), ("your data", self.enrolled))
                         if on) or "-"  # fmt: skip


@dataclass(frozen=True)
class RoundRow:
    """A recorded round with the node's metrics of its model (empty dicts: none kept)."""

    round: int
    participants: int
    aggregator: str
    epsilon: float
    block: int
    transaction: str
    requester: dict[str, Any]
    federated: dict[str, Any]
    reports: int

    @property
    def metrics_text(self) -> str:
        return metrics_text({"requester": self.requester, "federated": self.federated})


@dataclass(frozen=True)
class JobView:
    job: JobInfo
    details: dict[str, Any]
    rows: list[RoundRow]
    metric: str | None  # the score the curve shows, the first of SHOWN_METRICS kept
    mine: bool  # this node requested the job
    model_here: bool  # the node holds the job's current model

    @property
    def status(self) -> str:
        return str(self.details["status"])

    @property
    def ended(self) -> bool:
        return self.job.status in ENDED

    @property
    def can_start(self) -> bool:
        return (
            self.mine
            and self.job.status == JobStatus.APPROVED
            and bool(self.details["assets_enrolled"])
        )

    @property
    def can_complete(self) -> bool:
        job = self.job
        return self.mine and job.status == JobStatus.RUNNING and job.current_round >= job.rounds

    @property
    def terms(self) -> list[tuple[str, str]]:
        """The terms as `dain job show` prints them, one per line."""
        d = self.details
        epsilon = (f"{d['epsilon_spent']:.3g} of {d['max_epsilon']:.3g}" if d["max_epsilon"]
                   else "no bound (not private)")  # fmt: skip
        return [
            ("purpose", d["purpose"]),
            ("status", d["status"]),
            ("rounds", f"{d['round']} of {d['rounds']} recorded, {d['round_duration_s']} s each"),
            ("reward pool", d["pool"]),
            ("privacy", f"epsilon {epsilon}"),
            ("secure aggregation", "yes" if d["secure_aggregation"] else "no"),
            ("assets", f"{d['assets_enrolled']} enrolled (at most {d['max_assets']})"),
            ("requester", d["requester"]),
            ("spec", d["spec_cid"]),
            ("model", d["model_cid"]),
        ]

    @property
    def now(self) -> str | None:
        """The round under way, as `dain job show` writes it; None between rounds."""
        d = self.details
        if "next_round" not in d:
            return None
        failover = f" (failover {d['failovers']})" if d["failovers"] else ""
        return (f"round {d['next_round']}: aggregator {d['aggregator_now']}, deadline in "
                f"{d['deadline_in_s']:.0f} s{failover}")  # fmt: skip

    @property
    def metric_caption(self) -> str:
        if self.metric is None:
            return ("No metrics kept for this job yet: the requester's own scores and the "
                    "participants' reports appear here as rounds are scored.")  # fmt: skip
        return (
            f"{METRIC_NAMES[self.metric]} of each round's model, on the requester's own "
            "rows and on the participants' held-out rows (combined by examples)."
        )

    def metric_chart(self) -> str:
        name = METRIC_NAMES.get(self.metric or "", "score")
        series = [Series(f"{who} {name}", [(r.round, v) for r in self.rows
                                           if (v := getattr(r, who).get(self.metric or ""))
                                           is not None])
                  for who in ("requester", "federated")]  # fmt: skip
        return line_chart([s for s in series if s.points] or series[:1],
                          title=f"Job {self.job.job_id}: {name} per round", x_label="round",
                          y_label=name, ident=f"job{self.job.job_id}-metric")  # fmt: skip

    def epsilon_chart(self) -> str:
        points = [(r.round, r.epsilon) for r in self.rows if r.block]
        return line_chart([Series("epsilon", points)],
                          title=f"Job {self.job.job_id}: epsilon per round", x_label="round",
                          y_label="epsilon", ident=f"job{self.job.job_id}-epsilon")  # fmt: skip

    def fingerprint(self) -> tuple[object, ...]:
        """What changes when a round is recorded, a metric arrives or the status moves."""
        return (self.status, self.details["round"], self.details["assets_enrolled"],
                self.details.get("next_round"), self.details.get("failovers"),
                tuple(self.rows))  # fmt: skip


def job_list(node: Node, limit: int = LISTED) -> list[Listing]:
    """The newest `limit` jobs, newest first, marked as the node's own or its assets'."""
    jobs = node.ledger.jobs
    enrolled = {e.job_id for e in jobs.enrollments(owned_assets(node))}
    listed = []
    for job_id in range(jobs.count(), max(0, jobs.count() - limit), -1):
        row = job_row(jobs.job(job_id))
        listed.append(Listing(row, row["requester"] == node.address, job_id in enrolled))
    return listed


def job_id_of(node: Node, text: str, where: str) -> int:
    """A job by the id in a URL: digits naming a job on this network, or UnknownJob."""
    if not (text.isascii() and text.isdigit() and len(text) <= 12):
        raise UnknownJob(f"'{text[:40]}' is not a job number.",
                         hint=f"Jobs are numbered from 1; they are listed on {where}.")  # fmt: skip
    try:
        check_job(node.ledger, int(text), f"The jobs are listed on {where}.")
    except UnknownSubject as exc:
        raise UnknownJob(exc.message, hint=exc.hint) from None
    return int(text)


def job_view(node: Node, job_id: int) -> JobView:
    """One job as its page shows it."""
    ledger = node.ledger
    job = ledger.jobs.job(job_id)
    details = job_details(ledger, job)
    kept = {m.round: m.to_dict() for m in node.metrics(job_id)}
    rows = []
    for d in details["rounds_recorded"]:
        m = kept.get(d["round"], {})
        rows.append(RoundRow(d["round"], d["participants"], d["aggregator"], d["epsilon"],
                             d["block"], d["transaction"], m.get("requester") or {},
                             m.get("federated") or {}, m.get("reports", 0)))  # fmt: skip
    metric = next((k for k in SHOWN_METRICS for r in rows
                   if r.requester.get(k) is not None or r.federated.get(k) is not None),
                  None)  # fmt: skip
    return JobView(job, details, rows, metric, job.requester == node.address,
                   node.blobs.has(job.model_cid))  # fmt: skip


class UnknownJob(ConfigError):
    """A job id in a URL that names no job on this network."""
