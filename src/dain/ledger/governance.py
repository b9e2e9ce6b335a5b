"""Token and governance: balances, delegation, proposals and votes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

from eth_utils import keccak
from web3.logs import DISCARD

if TYPE_CHECKING:
    from dain.ledger.client import Ledger


class Vote(IntEnum):
    AGAINST = 0
    FOR = 1
    ABSTAIN = 2


class ProposalState(IntEnum):
    PENDING = 0
    ACTIVE = 1
    CANCELED = 2
    DEFEATED = 3
    SUCCEEDED = 4
    QUEUED = 5
    EXPIRED = 6
    EXECUTED = 7


@dataclass(frozen=True)
class Proposal:
    """Everything needed to vote on and execute a proposal."""

    proposal_id: int
    targets: tuple[str, ...]
    values: tuple[int, ...]
    calldatas: tuple[bytes, ...]
    description: str

    @property
    def description_hash(self) -> bytes:
        return keccak(text=self.description)


@dataclass(frozen=True)
class Tally:
    against: int
    for_: int
    abstain: int


class TokenClient:
    def __init__(self, ledger: Ledger) -> None:
        self._l = ledger
        self._c = ledger.contracts.token

    def balance_of(self, address: str) -> int:
        return int(self._c.functions.balanceOf(address).call())

    def total_supply(self) -> int:
        return int(self._c.functions.totalSupply().call())

    def transfer(self, to: str, amount: int) -> None:
        self._l.sender.send("token transfer", self._c.functions.transfer(to, amount))

    def approve(self, spender: str, amount: int) -> None:
        self._l.sender.send("token approve", self._c.functions.approve(spender, amount))

    def delegate(self, to: str | None = None) -> None:
        """Voting power counts only once delegated, to oneself included."""
        self._l.sender.send("delegate votes", self._c.functions.delegate(to or self._l.address))

    def votes(self, address: str) -> int:
        return int(self._c.functions.getVotes(address).call())


class GovernanceClient:
    def __init__(self, ledger: Ledger) -> None:
        self._l = ledger
        self._c = ledger.contracts.governor

    def propose(
        self, targets: list[str], values: list[int], calldatas: list[bytes], description: str
    ) -> Proposal:
        sent = self._l.sender.send(
            "governance proposal",
            self._c.functions.propose(targets, values, calldatas, description),
        )
        event = self._c.events.ProposalCreated().process_receipt(sent.receipt, errors=DISCARD)[0]
        return Proposal(
            int(event["args"]["proposalId"]),
            tuple(targets),
            tuple(values),
            tuple(calldatas),
            description,
        )

    def propose_job_approval(self, job_id: int, description: str | None = None) -> Proposal:
        jobs = self._l.contracts.jobs
        calldata = bytes.fromhex(jobs.encode_abi("approve", args=[job_id])[2:])
        text = description or f"Approve training job #{job_id}"
        return self.propose([jobs.address], [0], [calldata], text)

    def vote(self, proposal: Proposal, support: Vote) -> None:
        self._l.sender.send("vote", self._c.functions.castVote(proposal.proposal_id, int(support)))

    def execute(self, proposal: Proposal) -> None:
        self._l.sender.send(
            "execute proposal",
            self._c.functions.execute(
                list(proposal.targets),
                list(proposal.values),
                list(proposal.calldatas),
                proposal.description_hash,
            ),
        )

    def state(self, proposal: Proposal) -> ProposalState:
        return ProposalState(self._c.functions.state(proposal.proposal_id).call())

    def tally(self, proposal: Proposal) -> Tally:
        against, for_, abstain = self._c.functions.proposalVotes(proposal.proposal_id).call()
        return Tally(int(against), int(for_), int(abstain))

    def deadline(self, proposal: Proposal) -> int:
        return int(self._c.functions.proposalDeadline(proposal.proposal_id).call())

    def snapshot(self, proposal: Proposal) -> int:
        return int(self._c.functions.proposalSnapshot(proposal.proposal_id).call())

    def quorum(self, block: int) -> int:
        return int(self._c.functions.quorum(block).call())
