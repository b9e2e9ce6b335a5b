"""How a job reads to a person: rows and details (from `dain.node`, which the dashboard
shares) and the live watch of `dain job`."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from dain.cli.context import console
from dain.node import job_details, metrics_text

if TYPE_CHECKING:
    from dain.ledger import Ledger
    from dain.node import NodeHome


def print_details(details: dict[str, Any], where: NodeHome | None = None) -> None:
    metrics = _node_metrics(where, details["job_id"]) if where is not None else None
    console.print(_details_view(details, metrics))


def _details_view(
    details: dict[str, Any], metrics: dict[int, dict[str, Any]] | None = None
) -> Group:
    epsilon = (
        f"{details['epsilon_spent']:.3g} of {details['max_epsilon']:.3g}"
        if details["max_epsilon"]
        else "no bound (not private)"
    )
    head = Table.grid(padding=(0, 2))
    head.add_row("job", f"{details['job_id']} ({details['purpose']}), {details['status']}")
    head.add_row(
        "rounds",
        f"{details['round']} of {details['rounds']} recorded, {details['round_duration_s']} s each",
    )
    head.add_row("pool", details["pool"])
    head.add_row(
        "assets", f"{details['assets_enrolled']} enrolled (at most {details['max_assets']})"
    )
    if details.get("sampling"):
        head.add_row("sampling", details["sampling"].removeprefix("Sampling: "))
    head.add_row(
        "privacy",
        f"epsilon {epsilon}" + (", secure aggregation" if details["secure_aggregation"] else ""),
    )
    head.add_row("requester", details["requester"])
    head.add_row("model", details["model_cid"])
    if "next_round" in details:
        head.add_row(
            "now",
            f"round {details['next_round']}: aggregator "
            f"{details['aggregator_now']}, deadline in {details['deadline_in_s']:.0f} s"
            + (f" (failover {details['failovers']})" if details["failovers"] else ""),
        )
    progress = Progress(
        TextColumn("rounds"), BarColumn(), TextColumn("{task.completed}/{task.total}")
    )
    progress.add_task("rounds", total=details["rounds"], completed=details["round"])
    table = Table("round", "participants", "epsilon", "aggregator", "metrics", "block")
    for row in details["rounds_recorded"]:
        scores = (metrics or {}).get(row["round"], {})
        table.add_row(
            str(row["round"]),
            str(row["participants"]),
            f"{row['epsilon']:.3g}",
            row["aggregator"][:10],
            metrics_text(scores),
            str(row["block"]),
        )
    return Group(head, progress, table)


def _node_metrics(where: NodeHome, job_id: int) -> dict[int, dict[str, Any]]:
    """Per-round metrics the home's node keeps for the job (its own scores as requester and
    the participants' reports), read from its state database."""
    from dain.node import home_metrics

    if not where.state.exists():
        return {}
    return {m.round: m.to_dict() for m in home_metrics(where.state, job_id)}


def watch_job(
    ledger: Ledger,
    where: NodeHome,
    job_id: int,
    *,
    until_done: bool,
    interval: float,
    as_json: bool,
) -> None:
    """Redraws the job's details as the chain moves; JSON lines instead with --json."""
    from dain.ledger import JobStatus

    last = None
    ended = (JobStatus.COMPLETED, JobStatus.CANCELLED)
    with (
        Live(console=console, auto_refresh=False, transient=False)
        if not as_json
        else _Quiet() as live
    ):
        while True:
            job = ledger.jobs.job(job_id)
            details = job_details(ledger, job)
            metrics = _node_metrics(where, job_id)
            if as_json:
                snapshot = json.dumps(
                    details | {"metrics": {str(k): v for k, v in metrics.items()}}
                )
                if snapshot != last:
                    print(snapshot, flush=True)
                    last = snapshot
            else:
                stamp = datetime.now(UTC).strftime("%H:%M:%S")
                live.update(
                    Group(
                        _details_view(details, metrics),
                        f"[dim]{stamp} UTC, every {interval:g} s; Ctrl-C to stop[/dim]",
                    ),
                    refresh=True,
                )
            if until_done and (
                job.status in ended
                or (job.status == JobStatus.RUNNING and job.current_round >= job.rounds)
            ):
                return
            time.sleep(interval)


class _Quiet:
    def __enter__(self) -> _Quiet:
        return self

    def __exit__(self, *args: object) -> None:
        return None
