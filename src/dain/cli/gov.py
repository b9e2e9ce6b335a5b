"""`dain gov propose|vote|delegate|queue|execute|status`: member governance."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from dain.cli.addresses import parse_address
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
    from dain.ledger import proposal_status

    data = proposal_status(ledger, proposal)
    emit(as_json, data, lambda: show_status(data))


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
    from dain.ledger import proposal_status

    admit = parse_address(admit, "an address to admit") if admit is not None else None
    remove = parse_address(remove, "a member's address") if remove is not None else None
    ledger = Session(home, rpc, keystore, password).ledger()
    if approve_job is not None:
        _check_job_awaits_approval(ledger, approve_job)
        proposal = ledger.gov.propose_job_approval(approve_job, description)
    elif admit is not None:
        proposal = ledger.gov.propose_admission(admit, description)
    elif remove is not None:
        proposal = ledger.gov.propose_removal(remove, description)
    else:
        proposal = ledger.gov.propose_floor_share(int(floor_share or 0), description)
    data = proposal_status(ledger, proposal)
    emit(as_json, data, lambda: (console.print("Proposed."), show_status(data)))


def _check_job_awaits_approval(ledger: Ledger, job_id: int) -> None:
    """A vote on a job that does not exist, or is past approval, could only fail when it
    executes, after days of members' attention."""
    from dain.ledger import JobStatus

    status = ledger.jobs.job(job_id).status if job_id > 0 else JobStatus.NONE
    if status == JobStatus.NONE:
        count = ledger.jobs.count()
        known = f"jobs are numbered 1 to {count}" if count else "no job has been proposed yet"
        raise ConfigError(
            f"There is no job {job_id} on this network ({known}).",
            hint="A requester proposes a job first ('dain job propose SPEC'); "
            "then propose its approval with the id it printed.",
        )
    if status != JobStatus.PROPOSED:
        raise ConfigError(
            f"Job {job_id} is {status.name.lower()}: only a proposed job awaits approval.",
            hint=f"See it with 'dain audit job {job_id}'.",
        )


@app.command()
def vote(
    proposal_id: ProposalId,
    choice: Annotated[str, typer.Argument(help="for, against or abstain.")],
    home: Home = DEFAULT_HOME,
    rpc: Rpc = None,
    keystore: Keystore = None,
    password: Password = None,
    anyway: Annotated[
        bool,
        typer.Option(
            "--anyway", help="Vote even with no voting weight (it counts 0 and is final)."
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Cast your vote, weighted by your delegated tokens at the proposal's snapshot."""
    from dain.ledger import Vote, check_vote_weight

    try:
        support = Vote[choice.upper()]
    except KeyError:
        raise ConfigError(
            f"'{choice}' is not a vote.", hint="Vote for, against or abstain."
        ) from None
    ledger = Session(home, rpc, keystore, password).ledger()
    proposal = _proposal(ledger, proposal_id)
    if not anyway:
        check_vote_weight(ledger, proposal)
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
    """Give your tokens' voting power to yourself or someone else. Tokens vote only once
    delegated, and a proposal weighs votes as they stood at its snapshot: delegating counts
    for proposals made from now on, not for those already open."""
    from dain.ledger import votes_text

    to = parse_address(to, "an address to delegate to") if to is not None else None
    ledger = Session(home, rpc, keystore, password).ledger()
    ledger.token.delegate(to)
    target = to or ledger.address
    votes = ledger.token.votes(target)
    since = ledger.block_number()

    def render() -> None:
        console.print(f"{target} now votes with {votes_text(votes)}, for proposals whose snapshot "
                      f"is block {since} or later (those made from now on).")  # fmt: skip

    emit(as_json, {"delegate": target, "votes": str(votes), "from_block": since}, render)


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
