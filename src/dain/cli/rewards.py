"""`dain rewards` and `dain rewards claim`: what a node's assets earned, job by job."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table

from dain.cli.context import JsonFlag, Password, console, emit
from dain.cli.node import NodeHomeOption
from dain.cli.node_access import read_ledger, signing_node

if TYPE_CHECKING:
    from dain.ledger import Ledger

app = typer.Typer(
    help="What your data earned, per job, and claiming it.",
    invoke_without_command=True,
)


def earnings(ledger: Ledger, asset_ids: list[int]) -> list[dict[str, Any]]:
    """Per (job, asset) of the given assets: the job's status, what was claimed, and what
    can be claimed now (a closed job is settled by the first claim)."""
    from dain.ledger import JobStatus, format_dain

    jobs = ledger.jobs
    rows = []
    pairs = sorted({(e.job_id, e.asset_id) for e in jobs.enrollments(asset_ids)})
    for job_id, asset_id in pairs:
        job = jobs.job(job_id)
        claimed = sum(p.amount for p in jobs.rewards_paid(job_id, asset_id=asset_id))
        used = jobs.enrollment(job_id, asset_id).rounds_used
        closed = job.status in (JobStatus.COMPLETED, JobStatus.CANCELLED)
        owed = jobs.owed(job_id, asset_id) if closed else 0
        settled = closed and jobs.settlement_left(job_id) == 0
        rows.append({
            "job_id": job_id, "asset_id": f"0x{asset_id:064x}",
            "status": job.status.name.lower(),
            "rounds_used": used,
            "claimed": format_dain(claimed), "claimed_base_units": str(claimed),
            "claimable": format_dain(owed) if settled else
            ("settled at your claim" if closed and not claimed else format_dain(0)),
            "claimable_base_units": str(owed),
            "can_claim": closed and not claimed and used > 0,  # unused: nothing is owed
        })  # fmt: skip
    return rows


@app.callback()
def rewards(
    ctx: typer.Context, home: NodeHomeOption = None, as_json: JsonFlag = False
) -> None:  # fmt: skip
    """What each of this node's assets earned, per job: claimed, and claimable now."""
    if ctx.invoked_subcommand is not None:
        return
    from dain.node import NodeState

    ledger, where = read_ledger(home)
    rows = earnings(ledger, [a.asset_id for a in NodeState(where.state).assets()])
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("job", "asset", "status", "rounds used", "claimed", "claimable")
    for row in rows:
        table.add_row(str(row["job_id"]), row["asset_id"][:18] + "…", row["status"],
                      str(row["rounds_used"]), row["claimed"], row["claimable"])  # fmt: skip
    console.print(table if rows else "None of this node's assets took part in a job yet.")
    if any(r["can_claim"] for r in rows):
        console.print("Claim with: dain rewards claim")


@app.command()
def claim(
    home: NodeHomeOption = None,
    job: Annotated[int | None, typer.Option(help="Only this job.", min=1)] = None,
    password: Password = None,
    as_json: JsonFlag = False,
) -> None:
    """Claim everything this node's assets can claim (settling closed jobs as needed)."""
    from dain.ledger import format_dain

    node = signing_node(home, password)
    ledger = node.ledger
    due = [r for r in earnings(ledger, sorted(node.assets))
           if r["can_claim"] and (job is None or r["job_id"] == job)]  # fmt: skip
    paid: list[dict[str, Any]] = []
    with Progress(console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task("claiming", total=len(due))
        for row in due:
            amount = ledger.jobs.claim(row["job_id"], int(row["asset_id"], 16))
            paid.append({"job_id": row["job_id"], "asset_id": row["asset_id"],
                         "amount": format_dain(amount), "base_units": str(amount)})  # fmt: skip
            progress.advance(task)
    total = sum(int(p["base_units"]) for p in paid)

    def show() -> None:
        if not paid:
            console.print("Nothing to claim now.")
        for p in paid:
            console.print(f"Job {p['job_id']}, asset {p['asset_id'][:18]}…: {p['amount']}")
        if paid:
            console.print(f"Claimed {format_dain(total)} in all.")

    emit(as_json, {"claimed": paid, "total": format_dain(total)}, show)
