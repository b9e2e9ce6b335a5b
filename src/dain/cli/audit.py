"""`dain audit asset|job|member`: the audit trail, from chain events alone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from dain.cli.addresses import parse_address
from dain.cli.context import Home, JsonFlag, Rpc, Session, console, emit, parse_asset_id, short
from dain.data import format_asset_id
from dain.errors import ConfigError
from dain.node import DEFAULT_HOME

if TYPE_CHECKING:  # the ledger (web3) loads only when a command reads the chain
    from dain.ledger import AssetTrail, Auditor, JobTrail, MemberTrail

CsvFlag = Annotated[
    bool, typer.Option("--csv", help="Print CSV, one row per event, instead of a table.")
]

app = typer.Typer(
    help="Who used which data, when, for what, and what was paid.", no_args_is_help=True
)


def _tokens(amount: int) -> str:
    from dain.ledger import TOKEN_UNIT

    return f"{amount / TOKEN_UNIT:,.4f}"


def _when(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def show_asset(trail: AssetTrail) -> None:
    console.print(f"Asset {format_asset_id(trail.asset_id)}, owned by {trail.owner}")
    versions = Table(title="Policy versions", title_justify="left")
    for column in ("version", "change", "block"):
        versions.add_column(column)
    for v in trail.policy_versions:
        versions.add_row(
            str(v["version"]),
            "revoked" if v.get("revoked") else f"terms {v['policy_cid']}",
            str(v["block"]),
        )
    console.print(versions)
    uses = Table(title=f"Every use ({len(trail.uses)})", title_justify="left")
    for column in (
        "when (UTC)",
        "job",
        "requester",
        "round",
        "purpose",
        "policy v.",
        "examples",
        "block",
    ):
        uses.add_column(column)
    for u in trail.uses:
        uses.add_row(_when(u.timestamp), str(u.job_id), u.requester, str(u.round), u.purpose,
                     str(u.policy_version), str(u.num_examples), str(u.block))  # fmt: skip
    console.print(uses)
    paid = sum(p.amount for p in trail.paid)
    waiting = sum(trail.owed.values())
    console.print(f"Paid: {_tokens(paid)} DAIN; waiting to be claimed: {_tokens(waiting)} DAIN.")


def show_job(trail: JobTrail) -> None:
    console.print(f"Job {trail.job_id} ({trail.status}), purpose '{trail.purpose}'")
    console.print(f"Requested by {trail.requester}")
    rounds = Table(title="Rounds", title_justify="left")
    for column in ("round", "aggregator", "assets used", "epsilon", "block"):
        rounds.add_column(column)
    for r in trail.rounds:
        rounds.add_row(
            str(r["round"]),
            r["aggregator"],
            str(r["participants"]),
            f"{r['epsilon']:g}",
            str(r["block"]),
        )
    console.print(rounds)
    paid = Table(title="Paid", title_justify="left")
    for column in ("asset", "owner", "DAIN"):
        paid.add_column(column)
    for p in trail.paid:
        paid.add_row(short(p.asset_id), p.owner, _tokens(p.amount))
    console.print(paid)
    if trail.refunded:
        console.print(f"Refunded to the requester: {_tokens(trail.refunded)} DAIN.")


def show_member(trail: MemberTrail) -> None:
    table = Table(title=f"Member {trail.address}", show_header=False, title_justify="left")
    table.add_row("DID", trail.did or "-")
    table.add_row("admitted", "yes" if trail.admitted else "no")
    table.add_row("data assets", ", ".join(short(a) for a in trail.assets) or "-")
    table.add_row("uses of their data", str(trail.uses_of_their_data))
    table.add_row("jobs requested", ", ".join(map(str, trail.jobs_requested)) or "-")
    table.add_row("rewards received", f"{_tokens(trail.rewards_received)} DAIN")
    for key, value in trail.reputation.items():
        table.add_row(key.replace("_", " "), str(value))
    console.print(table)


def _auditor(home: Path, rpc: str | None) -> Auditor:
    from dain.ledger import Auditor

    return Auditor(Session(home, rpc).ledger(sign=False))


def _one_format(as_json: bool, as_csv: bool) -> None:
    if as_json and as_csv:  # before the chain is asked anything
        raise ConfigError("Choose one of --json and --csv.", hint="Run the command again.")


def _output(as_json: bool, as_csv: bool, trail: AssetTrail | JobTrail | MemberTrail,
            show: Callable[[], None]) -> None:  # fmt: skip
    """The trail as a table, as JSON (`--json`) or as CSV (`--csv`, one row per event)."""
    if as_csv:
        from dain.ledger import trail_csv

        typer.echo(trail_csv(trail), nl=False)
    else:
        emit(as_json, trail.to_dict(), show)


@app.command()
def asset(
    asset_id: Annotated[str, typer.Argument(help="The asset id (0x…).")],
    home: Home = DEFAULT_HOME,
    rpc: Rpc = None,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """Every use of one data asset, under which terms, and what it earned."""
    from dain.ledger import Auditor, check_asset

    _one_format(as_json, as_csv)
    wanted = parse_asset_id(asset_id)
    ledger = Session(home, rpc).ledger(sign=False)
    check_asset(ledger, wanted, hint="'dain data list' shows your assets' ids in full; "
                "'dain audit member ADDRESS' lists a member's.")  # fmt: skip
    trail = Auditor(ledger).asset(wanted)
    _output(as_json, as_csv, trail, lambda: show_asset(trail))


@app.command()
def job(
    job_id: Annotated[int, typer.Argument(help="The job number.")],
    home: Home = DEFAULT_HOME,
    rpc: Rpc = None,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """A job's rounds, the data each used, and who was paid."""
    from dain.ledger import Auditor, check_job

    _one_format(as_json, as_csv)
    ledger = Session(home, rpc).ledger(sign=False)
    check_job(ledger, job_id, hint="'dain audit member ADDRESS' lists the jobs a member requested.")
    trail = Auditor(ledger).job(job_id)
    _output(as_json, as_csv, trail, lambda: show_job(trail))


@app.command()
def member(
    address: Annotated[str, typer.Argument(help="The member's address (0x…).")],
    home: Home = DEFAULT_HOME,
    rpc: Rpc = None,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """A member's assets, the uses of their data, their rewards and reputation."""
    _one_format(as_json, as_csv)
    checked = parse_address(address)  # before the chain is asked anything
    trail = _auditor(home, rpc).member(checked)
    _output(as_json, as_csv, trail, lambda: show_member(trail))
