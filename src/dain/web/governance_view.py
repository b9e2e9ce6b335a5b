"""What the "Governance" page shows, read from the chain: every proposal with the terms a
member must read before voting (what it does, decoded call by call), its state, blocks,
tally and quorum as `dain gov status` gives them, and where this node stands on it
(its weight at the snapshot, its vote); the node's delegation. Plain data, no HTML, so
it can be checked against the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dain.errors import ConfigError
from dain.ledger import JobStatus, Tally, format_dain, proposal_status, votes_text
from dain.web.owner_view import when

if TYPE_CHECKING:
    from dain.ledger import Ledger, Proposal, ProposalCall, VoteCast

OPEN = ("pending", "active")
MAX_ID_DIGITS = 78  # a proposal id is a uint256: at most 78 decimal digits


@dataclass(frozen=True)
class Action:
    """One call a proposal makes, as a person reads it: what it does and its terms."""

    title: str
    terms: list[tuple[str, str]]


@dataclass(frozen=True)
class BlockTime:
    """A block the vote depends on, and when it was mined (UTC), or how far off it is."""

    block: int
    time: str


@dataclass(frozen=True)
class ProposalView:
    proposal_id: int
    description: str
    state: str
    actions: list[Action]
    status: dict[str, object]  # as `dain gov status --json` gives it
    tally: Tally
    quorum: int | None  # None until the snapshot block is past
    snapshot: BlockTime
    deadline: BlockTime
    executable_after: str | None  # a queued proposal's earliest execution (UTC)
    power: int | None  # this node's weight at the snapshot; None until that block is past
    power_now: int  # what it would weigh if the snapshot were now
    voted: bool
    vote: str | None  # "for", "against" or "abstain" once voted
    vote_weight: int

    @property
    def is_open(self) -> bool:
        return self.state in OPEN

    @property
    def can_vote(self) -> bool:
        return self.state == "active" and not self.voted

    @property
    def counted(self) -> int:
        """What counts toward quorum, as OpenZeppelin's Governor counts it: for + abstain."""
        return self.tally.for_ + self.tally.abstain

    @property
    def quorum_text(self) -> str:
        if self.quorum is None:
            return f"set at the snapshot (block {self.snapshot.block})"
        share = f"{100 * self.counted / self.quorum:.0f}%" if self.quorum else "none needed"
        reached = "reached" if self.counted >= self.quorum else "not reached"
        return f"{votes_text(self.counted)} of {votes_text(self.quorum)} ({share}), {reached}"

    @property
    def quorum_percent(self) -> int:
        """Progress toward quorum for the meter, capped at 100."""
        if not self.quorum:
            return 100 if self.quorum == 0 else 0
        return min(100, 100 * self.counted // self.quorum)

    @property
    def outcome(self) -> str | None:
        outcome = self.status["outcome"]
        return None if outcome is None else str(outcome)


@dataclass(frozen=True)
class Delegation:
    """Who votes with this node's tokens, and what this node votes with now."""

    address: str
    balance: int
    delegate: str | None  # None: never delegated, so its tokens vote nowhere
    votes: int  # delegated to it now, by itself and others
    block: int  # the latest block: a delegation now counts from the next proposals on

    @property
    def delegate_text(self) -> str:
        if self.delegate is None:
            return "nobody yet (your tokens do not vote until you delegate them)"
        return "yourself" if self.delegate == self.address else self.delegate


def governance(ledger: Ledger) -> tuple[list[ProposalView], Delegation]:
    """Every proposal, open ones first, then past ones, newest first within each; and the
    node's delegation."""
    latest = ledger.block_number()
    cast = votes_by_proposal(ledger)  # one log search for all, not one per proposal
    views = [proposal_view(ledger, p, latest, cast) for p in reversed(ledger.gov.proposals())]
    views.sort(key=lambda v: not v.is_open)  # stable: newest first within each group
    return views, delegation(ledger)


def votes_by_proposal(ledger: Ledger) -> dict[int, VoteCast]:
    """This node's votes, by proposal id."""
    return {v.proposal_id: v for v in ledger.gov.votes_cast(ledger.address)}


def delegation(ledger: Ledger) -> Delegation:
    token, me = ledger.token, ledger.address
    return Delegation(me, token.balance_of(me), token.delegate_of(me), token.votes(me),
                      ledger.block_number())  # fmt: skip


def proposal_view(
    ledger: Ledger,
    proposal: Proposal,
    latest: int | None = None,
    cast: dict[int, VoteCast] | None = None,
) -> ProposalView:
    gov, me = ledger.gov, ledger.address
    latest = ledger.block_number() if latest is None else latest
    mine = (votes_by_proposal(ledger) if cast is None else cast).get(proposal.proposal_id)
    status = proposal_status(ledger, proposal)
    snapshot = int(str(status["snapshot_block"]))
    eta = status["executable_after"]
    quorum = status["quorum"]
    return ProposalView(
        proposal_id=proposal.proposal_id,
        description=proposal.description,
        state=str(status["state"]),
        actions=[describe(ledger, call) for call in gov.calls(proposal)],
        status=status,
        tally=Tally(*(int(str(status[f"votes_{k}"])) for k in ("against", "for", "abstain"))),
        quorum=int(str(quorum)) if quorum is not None else None,
        snapshot=_block_time(ledger, snapshot, latest),
        deadline=_block_time(ledger, int(str(status["voting_ends_block"])), latest),
        executable_after=when(int(str(eta))) + " UTC" if eta else None,
        power=ledger.token.votes(me, snapshot) if snapshot < latest else None,
        power_now=ledger.token.votes(me),
        voted=gov.has_voted(proposal, me),
        vote=mine.support.name.lower() if mine else None,
        vote_weight=mine.weight if mine else 0,
    )


def _block_time(ledger: Ledger, block: int, latest: int) -> BlockTime:
    if block <= latest:
        return BlockTime(block, when(ledger.block_time(block)) + " UTC")
    ahead = block - latest
    return BlockTime(block, f"in {ahead} block{'s' if ahead != 1 else ''} (not mined yet)")


def describe(ledger: Ledger, call: ProposalCall) -> Action:
    """A call as the member voting on it must read it: a job approval with the job's terms,
    an admission or removal with the account, a parameter change with old and new value."""
    args = call.args
    match call.contract, call.function:
        case "jobs", "approve":
            return _job_approval(ledger, int(args[0]))
        case "registry", "admit":
            return Action("Admit a member", [("account", str(args[0])), _member(ledger, args[0])])
        case "registry", "remove":
            return Action("Remove a member", [("account", str(args[0])), _member(ledger, args[0])])
        case "jobs", "setFloorShareBps":
            now = ledger.jobs.floor_share_bps()
            return Action("Change a parameter: the reward floor share", [
                ("parameter", "floor share (the part of a job's pool shared equally)"),
                ("new value", _bps(int(args[0]))), ("current value", _bps(now))])  # fmt: skip
        case "jobs", "setMinRewardPool":
            now = ledger.jobs.min_reward_pool()
            return Action("Change a parameter: the smallest reward pool", [
                ("parameter", "smallest reward pool a job may be proposed with"),
                ("new value", format_dain(int(args[0]))),
                ("current value", format_dain(now))])  # fmt: skip
        case "jobs", "setMaxAssetsPerJob":
            now = ledger.jobs.max_assets_per_job()
            return Action("Change a parameter: the most assets per job", [
                ("parameter", "most assets a job may take"),
                ("new value", str(args[0])), ("current value", str(now))])  # fmt: skip
        case contract, None:
            return Action(f"A call this page cannot read, to {contract}", [
                ("call data", "0x" + call.calldata.hex())])  # fmt: skip
    return Action(f"Call {call.function} on the {call.contract} contract",
                  [(f"argument {i + 1}", str(a)) for i, a in enumerate(args)])  # fmt: skip


def _job_approval(ledger: Ledger, job_id: int) -> Action:
    job = ledger.jobs.job(job_id)
    if job.status == JobStatus.NONE:
        return Action(f"Approve training job {job_id}", [("job", "no such job on this chain")])
    privacy = (f"epsilon at most {job.max_epsilon:.3g} over the job" if job.max_epsilon
               else "no bound (not private)")  # fmt: skip
    return Action(f"Approve training job {job_id}", [
        ("job", str(job_id)),
        ("purpose", job.purpose),
        ("rounds", f"{job.rounds}, {job.round_duration} s each"),
        ("pool", format_dain(job.reward_pool)),
        ("privacy", privacy),
        ("secure aggregation", "required" if job.secure_aggregation else "not required"),
        ("most assets", str(job.max_assets)),
        ("requester", job.requester),
        ("job status now", job.status.name.lower()),
    ])  # fmt: skip


def _member(ledger: Ledger, account: object) -> tuple[str, str]:
    member = ledger.registry.is_member(str(account))
    return ("member now", "yes" if member else "no")


def _bps(bps: int) -> str:
    return f"{bps} basis points ({bps / 100:.2f}%)"


def parse_proposal_id(text: str) -> int:
    """A proposal id as the page and `dain gov propose` write it: a whole number, up to
    2^256 - 1. Checked before it reaches int(), which would take '٣', '1_0' or ' 1'."""
    if not text or len(text) > MAX_ID_DIGITS or not all(c in "0123456789" for c in text):
        raise ConfigError(f"'{text[:80]}' is not a proposal id (a whole number).",
                          hint="Proposal ids are the long numbers listed on the Governance "
                          "page, as 'dain gov propose' prints them.")  # fmt: skip
    value = int(text)
    if value >= 2**256:
        raise ConfigError(f"'{text}' is too large to be a proposal id.",
                          hint="Proposal ids are uint256 numbers; copy it again.")  # fmt: skip
    return value


class NoSuchProposal(ConfigError):
    """A proposal id no proposal on this chain has."""


def find_proposal(ledger: Ledger, proposal_id: int) -> Proposal:
    for proposal in ledger.gov.proposals():
        if proposal.proposal_id == proposal_id:
            return proposal
    raise NoSuchProposal(f"No proposal {proposal_id} on this chain.",
                         hint="The Governance page lists every proposal; "
                         "check the id 'dain gov propose' printed.")  # fmt: skip


def can_execute(ledger: Ledger, view: ProposalView) -> bool:
    """A queued proposal whose timelock delay has passed."""
    eta = view.status["executable_after"]
    return view.state == "queued" and bool(eta) and ledger.pending_time() >= int(str(eta))
