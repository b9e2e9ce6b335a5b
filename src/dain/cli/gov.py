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
    from dain.ledger import Ledger, Proposal, Tally

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
    # the quorum is a share of the supply at the snapshot: known once that block is past
    quorum = gov.quorum(snapshot) if snapshot < ledger.block_number() else None
    return {
        "proposal_id": str(proposal.proposal_id),
        "description": proposal.description,
        "state": state,
        "votes_for": str(tally.for_),
        "votes_against": str(tally.against),
        "votes_abstain": str(tally.abstain),
        "quorum": str(quorum) if quorum is not None else None,
        "outcome": outcome(state, tally, quorum),
        "snapshot_block": snapshot,
        "voting_ends_block": gov.deadline(proposal),
        "executable_after": eta or None,
    }


def outcome(state: str, tally: Tally, quorum: int | None) -> str | None:
    """Why a closed vote ended as it did, or how an open one stands. Quorum counts the
    votes for and abstaining; then the vote passes if more are for than against."""
    if quorum is None or state in ("pending", "canceled"):
        return None
    counted = tally.for_ + tally.abstain
    quorum_met = counted >= quorum
    passing = tally.for_ > tally.against
    votes = f"{_dain(tally.for_)} for, {_dain(tally.against)} against"
    reasons = []
    if not quorum_met:
        reasons.append(f"quorum missed: {_dain(counted)} for or abstaining, {_dain(quorum)} needed")
    if not passing and (quorum_met or tally.against):
        reasons.append(f"the vote decided it: {votes} (more must be for than against)")
    if state == "defeated":
        return "defeated, " + "; and ".join(reasons)
    if state == "active":
        return "failing so far, " + "; and ".join(reasons) if reasons else "passing so far"
    return f"passed: quorum reached ({_dain(counted)} of {_dain(quorum)}), {votes}"


def _dain(amount: int) -> str:
    from dain.ledger import TOKEN_UNIT

    return f"{amount / TOKEN_UNIT:,.2f} DAIN"


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
    data = status_dict(ledger, proposal)
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
    from dain.ledger import Vote

    try:
        support = Vote[choice.upper()]
    except KeyError:
        raise ConfigError(
            f"'{choice}' is not a vote.", hint="Vote for, against or abstain."
        ) from None
    ledger = Session(home, rpc, keystore, password).ledger()
    proposal = _proposal(ledger, proposal_id)
    if not anyway:
        _check_weight(ledger, proposal)
    ledger.gov.vote(proposal, support)
    _show(ledger, proposal, as_json)


def _check_weight(ledger: Ledger, proposal: Proposal) -> None:
    """Refuses a vote that would count 0: the governor takes one vote per account, so it
    could not be cast again once the weight is there. Votes weigh what was delegated to
    the voter at the proposal's snapshot block, and tokens count only once delegated."""
    from dain.ledger import ProposalState

    gov, token, me = ledger.gov, ledger.token, ledger.address
    if gov.state(proposal) != ProposalState.ACTIVE or gov.has_voted(proposal, me):
        return  # the governor refuses these with its own reason
    snapshot = gov.snapshot(proposal)
    if token.votes(me, snapshot):
        return
    held = token.balance_of(me)
    delegate = token.delegate_of(me)
    if not held and not token.votes(me):
        why = "you hold no DAIN and nobody delegated votes to you"
        fix = "Votes come from DAIN tokens: get some, then 'dain gov delegate' to yourself"
    elif delegate is None:
        why = (f"your {_dain(held)} count only once delegated, and you have not delegated "
               "them (not even to yourself)")  # fmt: skip
        fix = "Delegate to yourself with 'dain gov delegate'; it counts for later proposals"
    elif delegate != me:
        why = f"you delegated your tokens to {delegate}, who votes with them"
        fix = "Your delegate's vote carries your tokens; 'dain gov delegate' takes them back"
    else:
        why = (f"your votes ({_dain(token.votes(me))} now) came after the proposal's snapshot "
               f"(block {snapshot}); a vote weighs what was delegated to you then")  # fmt: skip
        fix = "They count for proposals made from now on"
    raise ConfigError(
        f"Your vote on this proposal would count 0: {why}.",
        hint=f"{fix}. A vote cannot be recast, so none was sent; add --anyway to cast this "
        "one with no weight.",
    )


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
    to = parse_address(to, "an address to delegate to") if to is not None else None
    ledger = Session(home, rpc, keystore, password).ledger()
    ledger.token.delegate(to)
    target = to or ledger.address
    votes = ledger.token.votes(target)
    since = ledger.block_number()

    def render() -> None:
        console.print(f"{target} now votes with {_dain(votes)}, for proposals whose snapshot "
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
