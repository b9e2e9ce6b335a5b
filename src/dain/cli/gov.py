"""`dain gov propose|vote|delegate|queue|execute|status`: member governance."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from dain.cli.context import Home, JsonFlag, Keystore, Password, Rpc, Session, console, emit
from dain.errors import ConfigError
from dain.node import DEFAULT_HOME

if TYPE_CHECKING:  # the ledger (web3) loads only when a command acts on the chain
    from dain.ledger import Ledger, Proposal

app = typer.Typer(help="Propose, vote on and carry out network decisions.", no_args_is_help=True)

ProposalId = Annotated[str, typer.Argument(help="The proposal id 'dain gov propose' printed.")]


def _proposal(ledger: Ledger, text: str) -> Proposal:
    try:
        return ledger.gov.proposal(int(text))
    except ValueError:
        raise ConfigError(f"'{text}' is not a proposal id (a whole number).") from None


def _show(ledger: Ledger, proposal: Proposal, as_json: bool) -> None:
    data = status_dict(ledger, proposal)
    emit(as_json, data, lambda: show_status(data))


def status_dict(ledger: Ledger, proposal: Proposal) -> dict[str, object]:
    gov = ledger.gov
    tally = gov.tally(proposal)
    snapshot = gov.snapshot(proposal)
    state = gov.state(proposal).name.lower()
    eta = gov.eta(proposal)
    return {
        "proposal_id": str(proposal.proposal_id),
        "description": proposal.description,
        "state": state,
        "votes_for": str(tally.for_),
        "votes_against": str(tally.against),
        "votes_abstain": str(tally.abstain),
        "quorum": str(gov.quorum(snapshot)) if snapshot < ledger.block_number() else None,
        "snapshot_block": snapshot,
        "voting_ends_block": gov.deadline(proposal),
        "executable_after": eta or None,
    }


def show_status(data: dict[str, object]) -> None:
    from dain.ledger import TOKEN_UNIT

    table = Table(title=f"Proposal {data['proposal_id']}", show_header=False, title_justify="left")
    for key, value in data.items():
        if key.startswith("votes_") or key == "quorum":
            value = "-" if value is None else f"{int(str(value)) / TOKEN_UNIT:,.2f} DAIN"
        if key == "executable_after" and value:
            value = dt.datetime.fromtimestamp(int(str(value)), dt.UTC).isoformat()
        table.add_row(key.replace("_", " "), str(value if value is not None else "-"))
    console.print(table)


@app.command()
def propose(
    approve_job: Annotated[int | None, typer.Option(help="Approve this training job.")] = None,
    admit: Annotated[str | None, typer.Option(help="Admit this address as a member.")] = None,
    remove: Annotated[str | None, typer.Option(help="Remove this member.")] = None,
    floor_share: Annotated[
        int | None, typer.Option(help="Set the reward floor share, in basis points (0-10000).")
    ] = None,
    description: Annotated[str | None, typer.Option(help="What voters will read.")] = None,
    home: Home = DEFAULT_HOME,
    rpc: Rpc = None,
    keystore: Keystore = None,
    password: Password = None,
    as_json: JsonFlag = False,
) -> None:
    """Put one decision to a vote."""
    chosen = [x for x in (approve_job, admit, remove, floor_share) if x is not None]
    if len(chosen) != 1:
        raise ConfigError(
            "Say what to decide: exactly one of --approve-job, --admit, --remove, --floor-share."
        )
    ledger = Session(home, rpc, keystore, password).ledger()
    if approve_job is not None:
        proposal = ledger.gov.propose_job_approval(approve_job, description)
    elif admit is not None:
        proposal = ledger.gov.propose_admission(admit, description)
    elif remove is not None:
        proposal = ledger.gov.propose_removal(remove, description)
    else:
        proposal = ledger.gov.propose_floor_share(int(floor_share or 0), description)
    data = status_dict(ledger, proposal)
    emit(as_json, data, lambda: (console.print("Proposed."), show_status(data)))


@app.command()
def vote(
    proposal_id: ProposalId,
    choice: Annotated[str, typer.Argument(help="for, against or abstain.")],
    home: Home = DEFAULT_HOME,
    rpc: Rpc = None,
    keystore: Keystore = None,
    password: Password = None,
    as_json: JsonFlag = False,
) -> None:
    """Cast your vote, weighted by your delegated tokens at the proposal's snapshot."""
    from dain.ledger import Vote

    try:
        support = Vote[choice.upper()]
    except KeyError:
        raise ConfigError(
            f"'{choice}' is not a vote.", hint="Vote for, against or abstain."
        ) from None
    ledger = Session(home, rpc, keystore, password).ledger()
    proposal = _proposal(ledger, proposal_id)
    ledger.gov.vote(proposal, support)
    _show(ledger, proposal, as_json)


@app.command()
def delegate(
    to: Annotated[
        str | None, typer.Argument(help="Who votes with your tokens (default: you).")
    ] = None,
    home: Home = DEFAULT_HOME,
    rpc: Rpc = None,
    keystore: Keystore = None,
    password: Password = None,
    as_json: JsonFlag = False,
) -> None:
    """Give your tokens' voting power to yourself or someone else; it counts from then on."""
    from dain.ledger import TOKEN_UNIT

    ledger = Session(home, rpc, keystore, password).ledger()
    ledger.token.delegate(to)
    target = to or ledger.address
    votes = ledger.token.votes(target)
    emit(
        as_json,
        {"delegate": target, "votes": str(votes)},
        lambda: console.print(f"{target} now votes with {votes / TOKEN_UNIT:,.2f} DAIN."),
    )


@app.command()
def queue(
    proposal_id: ProposalId,
    home: Home = DEFAULT_HOME,
    rpc: Rpc = None,
    keystore: Keystore = None,
    password: Password = None,
    as_json: JsonFlag = False,
) -> None:
    """Send a proposal that passed to the timelock; it can execute after the delay."""
    ledger = Session(home, rpc, keystore, password).ledger()
    proposal = _proposal(ledger, proposal_id)
    ledger.gov.queue(proposal)
    _show(ledger, proposal, as_json)


@app.command()
def execute(
    proposal_id: ProposalId,
    home: Home = DEFAULT_HOME,
    rpc: Rpc = None,
    keystore: Keystore = None,
    password: Password = None,
    as_json: JsonFlag = False,
) -> None:
    """Carry out a queued proposal whose delay has passed (anyone may)."""
    ledger = Session(home, rpc, keystore, password).ledger()
    proposal = _proposal(ledger, proposal_id)
    ledger.gov.execute(proposal)
    _show(ledger, proposal, as_json)


@app.command()
def status(
    proposal_id: ProposalId,
    home: Home = DEFAULT_HOME,
    rpc: Rpc = None,
    as_json: JsonFlag = False,
) -> None:
    """Where a proposal stands: state, votes, quorum, deadlines."""
    ledger = Session(home, rpc).ledger(sign=False)
    _show(ledger, _proposal(ledger, proposal_id), as_json)
