"""Where a proposal stands, as `dain gov status` and the dashboard's Governance page both
show it, and the check both make before a vote: one that would count 0 is refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dain.errors import ConfigError
from dain.ledger.governance import ProposalState
from dain.ledger.units import TOKEN_UNIT

if TYPE_CHECKING:
    from dain.ledger.client import Ledger
    from dain.ledger.governance import Proposal, Tally


def proposal_status(ledger: Ledger, proposal: Proposal) -> dict[str, object]:
    """State, votes, quorum and deadlines (amounts in base units, as strings)."""
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
        "outcome": vote_outcome(state, tally, quorum),
        "snapshot_block": snapshot,
        "voting_ends_block": gov.deadline(proposal),
        "executable_after": eta or None,
    }


def vote_outcome(state: str, tally: Tally, quorum: int | None) -> str | None:
    """Why a closed vote ended as it did, or how an open one stands. Quorum counts the
    votes for and abstaining; then the vote passes if more are for than against."""
    if quorum is None or state in ("pending", "canceled"):
        return None
    counted = tally.for_ + tally.abstain
    quorum_met = counted >= quorum
    passing = tally.for_ > tally.against
    votes = f"{votes_text(tally.for_)} for, {votes_text(tally.against)} against"
    reasons = []
    if not quorum_met:
        reasons.append(
            f"quorum missed: {votes_text(counted)} for or abstaining, {votes_text(quorum)} needed"
        )
    if not passing and (quorum_met or tally.against):
        reasons.append(f"the vote decided it: {votes} (more must be for than against)")
    if state == "defeated":
        return "defeated, " + "; and ".join(reasons)
    if state == "active":
        return "failing so far, " + "; and ".join(reasons) if reasons else "passing so far"
    return f"passed: quorum reached ({votes_text(counted)} of {votes_text(quorum)}), {votes}"


def votes_text(amount: int) -> str:
    """Voting weight as `dain gov` writes it: DAIN with two decimals."""
    return f"{amount / TOKEN_UNIT:,.2f} DAIN"


def check_vote_weight(ledger: Ledger, proposal: Proposal, *, force: str = "--anyway") -> None:
    """Refuses a vote that would count 0: the governor takes one vote per account, so it
    could not be cast again once the weight is there. Votes weigh what was delegated to
    the voter at the proposal's snapshot block, and tokens count only once delegated.
    `force` names how the caller may cast it anyway ("" if it may not)."""
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
        why = (f"your {votes_text(held)} count only once delegated, and you have not delegated "
               "them (not even to yourself)")  # fmt: skip
        fix = "Delegate to yourself with 'dain gov delegate'; it counts for later proposals"
    elif delegate != me:
        why = f"you delegated your tokens to {delegate}, who votes with them"
        fix = "Your delegate's vote carries your tokens; 'dain gov delegate' takes them back"
    else:
        now = votes_text(token.votes(me))
        why = (f"your votes ({now} now) came after the proposal's snapshot (block {snapshot}); "
               "a vote weighs what was delegated to you then")  # fmt: skip
        fix = "They count for proposals made from now on"
    anyway = f"; add {force} to cast this one with no weight" if force else ""
    raise ConfigError(
        f"Your vote on this proposal would count 0: {why}.",
        hint=f"{fix}. A vote cannot be recast, so none was sent{anyway}.",
    )
