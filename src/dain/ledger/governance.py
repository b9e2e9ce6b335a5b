"""Token and governance: balances, delegation, proposals, votes (also by signature),
the timelock queue and execution."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar

from eth_utils import keccak
from web3.contract import Contract
from web3.exceptions import Web3Exception
from web3.types import EventData

from dain.identity import Identity, sign_typed_data
from dain.ledger.caller import ChainCaller
from dain.ledger.errors import LedgerError
from dain.ledger.events import in_receipt


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
    """Everything needed to vote on, queue and execute a proposal; decoded from the
    governor's ProposalCreated event."""

    EVENT: ClassVar[str] = "ProposalCreated"

    proposal_id: int
    targets: tuple[str, ...]
    values: tuple[int, ...]
    calldatas: tuple[bytes, ...]
    description: str

    @classmethod
    def from_log(cls, log: EventData) -> Proposal:
        args = log["args"]
        return cls(
            int(args["proposalId"]),
            tuple(args["targets"]),
            tuple(int(v) for v in args["values"]),
            tuple(bytes(c) for c in args["calldatas"]),
            args["description"],
        )

    @property
    def description_hash(self) -> bytes:
        return keccak(text=self.description)

    def _args(self) -> tuple[list[str], list[int], list[bytes], bytes]:
        return list(self.targets), list(self.values), list(self.calldatas), self.description_hash


@dataclass(frozen=True)
class VoteCast:
    """One member's vote on one proposal, as the governor's VoteCast event records it."""

    EVENT: ClassVar[str] = "VoteCast"

    voter: str
    proposal_id: int
    support: Vote
    weight: int
    block_number: int

    @classmethod
    def from_log(cls, log: EventData) -> VoteCast:
        args = log["args"]
        return cls(args["voter"], int(args["proposalId"]), Vote(int(args["support"])),
                   int(args["weight"]), int(log["blockNumber"]))  # fmt: skip


@dataclass(frozen=True)
class ProposalCall:
    """One call a proposal makes when executed, decoded: `contract` names the network's
    contract it targets ("jobs", "registry", "governor", "timelock"), or is the target's
    address with `function` None when the call is not to one of them (kept as raw bytes)."""

    contract: str
    function: str | None
    args: tuple[Any, ...]
    calldata: bytes


@dataclass(frozen=True)
class Tally:
    against: int
    for_: int
    abstain: int


class TokenClient:
    def __init__(self, contract: Contract, caller: ChainCaller) -> None:
        self._c = contract
        self._call = caller

    @property
    def address(self) -> str:
        return str(self._c.address)

    def balance_of(self, address: str) -> int:
        return int(self._call.read("a token balance", self._c.functions.balanceOf(address)))

    def total_supply(self) -> int:
        return int(self._call.read("the token supply", self._c.functions.totalSupply()))

    def transfer(self, to: str, amount: int) -> None:
        self._call.send("transfer tokens", self._c.functions.transfer(to, amount))

    def approve(self, spender: str, amount: int) -> None:
        self._call.send("approve token spending", self._c.functions.approve(spender, amount))

    def delegate(self, to: str | None = None) -> None:
        """Voting power counts only once delegated, to oneself included."""
        self._call.send("delegate votes", self._c.functions.delegate(to or self._call.address))

    def delegate_of(self, address: str) -> str | None:
        """Whom `address`'s tokens vote through; None if it never delegated."""
        to = self._call.read("a delegation", self._c.functions.delegates(address))
        return None if int(to, 16) == 0 else str(to)

    def votes(self, address: str, block: int | None = None) -> int:
        """Voting power now, or at a past block (a proposal's snapshot)."""
        if block is None:
            return int(self._call.read("voting power", self._c.functions.getVotes(address)))
        return int(
            self._call.read("past voting power", self._c.functions.getPastVotes(address, block))
        )


class GovernanceClient:
    """The governor and its timelock. Proposals call other contracts, so the client is
    given the ones its named proposals target (`jobs`, `registry`); it only encodes calls
    to them, and never reads or sends to them itself."""

    def __init__(
        self,
        governor: Contract,
        caller: ChainCaller,
        *,
        timelock: Contract,
        jobs: Contract,
        registry: Contract,
    ) -> None:
        self._c = governor
        self._call = caller
        self._timelock = timelock
        self._jobs = jobs
        self._registry = registry

    def propose(
        self, targets: list[str], values: list[int], calldatas: list[bytes], description: str
    ) -> Proposal:
        sent = self._call.send(
            "submit the governance proposal",
            self._c.functions.propose(targets, values, calldatas, description),
        )
        (proposal,) = in_receipt(self._c, sent.receipt, Proposal)
        return proposal

    def propose_call(
        self, contract: Any, function: str, args: list[Any], description: str
    ) -> Proposal:
        """A proposal with one call, e.g. (contracts.jobs, "approve", [job_id])."""
        calldata = bytes.fromhex(contract.encode_abi(function, args=args)[2:])
        return self.propose([contract.address], [0], [calldata], description)

    def propose_job_approval(self, job_id: int, description: str | None = None) -> Proposal:
        text = description or f"Approve training job #{job_id}"
        return self.propose_call(self._jobs, "approve", [job_id], text)

    def propose_admission(self, account: str, description: str | None = None) -> Proposal:
        text = description or f"Admit {account} as a member"
        return self.propose_call(self._registry, "admit", [account], text)

    def propose_admissions(self, accounts: list[str], description: str | None = None) -> Proposal:
        """One proposal admitting every one of `accounts`: one vote for a group joining."""
        calldatas = [
            bytes.fromhex(self._registry.encode_abi("admit", args=[a])[2:]) for a in accounts
        ]
        text = description or "Admit " + ", ".join(accounts) + " as members"
        return self.propose([self._registry.address] * len(accounts), [0] * len(accounts),
                            calldatas, text)  # fmt: skip

    def propose_removal(self, account: str, description: str | None = None) -> Proposal:
        text = description or f"Remove member {account}"
        return self.propose_call(self._registry, "remove", [account], text)

    def propose_floor_share(self, bps: int, description: str | None = None) -> Proposal:
        text = description or f"Set the reward floor share to {bps / 100:.2f}%"
        return self.propose_call(self._jobs, "setFloorShareBps", [bps], text)

    def propose_min_reward_pool(self, amount: int, description: str | None = None) -> Proposal:
        """The smallest reward pool a job may be proposed with, in token base units."""
        text = description or f"Set the smallest reward pool to {amount} base units"
        return self.propose_call(self._jobs, "setMinRewardPool", [amount], text)

    def propose_max_assets_per_job(self, count: int, description: str | None = None) -> Proposal:
        """The most assets a job may take (at most the contract's own ceiling, 256)."""
        text = description or f"Let a job take at most {count} assets"
        return self.propose_call(self._jobs, "setMaxAssetsPerJob", [count], text)

    def vote(self, proposal: Proposal, support: Vote) -> None:
        self._call.send("vote", self._c.functions.castVote(proposal.proposal_id, int(support)))

    def ballot(self, voter: Identity, proposal: Proposal, support: Vote) -> bytes:
        """A vote signed off chain (EIP-712) that anyone can submit: voting without gas."""
        nonce = int(self._call.read("the voter's nonce", self._c.functions.nonces(voter.address)))
        typed = {
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                "Ballot": [
                    {"name": "proposalId", "type": "uint256"},
                    {"name": "support", "type": "uint8"},
                    {"name": "voter", "type": "address"},
                    {"name": "nonce", "type": "uint256"},
                ],
            },
            "primaryType": "Ballot",
            "domain": {
                "name": self._call.read("the governor's name", self._c.functions.name()),
                "version": self._call.read("the governor's version", self._c.functions.version()),
                "chainId": self._call.chain_id,
                "verifyingContract": self._c.address,
            },
            "message": {
                "proposalId": proposal.proposal_id,
                "support": int(support),
                "voter": voter.address,
                "nonce": nonce,
            },
        }
        return sign_typed_data(voter, typed)

    def submit_ballot(
        self, proposal: Proposal, support: Vote, voter: str, signature: bytes
    ) -> None:
        """Relays someone's signed vote; the relayer pays the gas, the vote is the voter's."""
        self._call.send(
            "relay a signed vote",
            self._c.functions.castVoteBySig(proposal.proposal_id, int(support), voter, signature),
        )

    def queue(self, proposal: Proposal) -> None:
        """Moves a succeeded proposal into the timelock; it executes after the delay."""
        self._call.send("queue the proposal", self._c.functions.queue(*proposal._args()))

    def execute(self, proposal: Proposal) -> None:
        self._call.send("execute the proposal", self._c.functions.execute(*proposal._args()))

    def proposals(self) -> list[Proposal]:
        """Every proposal ever made, oldest first, rebuilt from the ProposalCreated events."""
        return self._call.events("the governance proposals", self._c, Proposal)

    def proposal(self, proposal_id: int) -> Proposal:
        """A proposal rebuilt from its ProposalCreated event, so only its id is needed."""
        for proposal in self.proposals():
            if proposal.proposal_id == proposal_id:
                return proposal
        raise LedgerError(
            f"No proposal {proposal_id} on this chain.",
            hint="Check the id 'dain gov propose' printed.",
        )

    def votes_cast(self, voter: str) -> list[VoteCast]:
        """Every vote `voter` cast, on any proposal, oldest first: how it voted (the
        governor itself only says whether)."""
        return self._call.events("the votes cast", self._c, VoteCast, {"voter": voter})

    def calls(self, proposal: Proposal) -> list[ProposalCall]:
        """What the proposal does when executed, call by call, decoded against the network's
        contracts. Decoding only: no chain request."""
        known = {str(c.address): (name, c) for name, c in (
            ("jobs", self._jobs), ("registry", self._registry), ("governor", self._c),
            ("timelock", self._timelock))}  # fmt: skip
        found = []
        for target, calldata in zip(proposal.targets, proposal.calldatas, strict=True):
            name, contract = known.get(str(target), (str(target), None))
            function, args = _decode(contract, calldata) if contract else (None, ())
            found.append(ProposalCall(name, function, args, calldata))
        return found

    def cancel(self, proposal: Proposal) -> None:
        """The proposer withdraws a proposal before its vote opens."""
        self._call.send("cancel the proposal", self._c.functions.cancel(*proposal._args()))

    def state(self, proposal: Proposal) -> ProposalState:
        return ProposalState(
            self._call.read("the proposal's state", self._c.functions.state(proposal.proposal_id))
        )

    def tally(self, proposal: Proposal) -> Tally:
        against, for_, abstain = self._call.read(
            "the proposal's votes", self._c.functions.proposalVotes(proposal.proposal_id)
        )
        return Tally(int(against), int(for_), int(abstain))

    def has_voted(self, proposal: Proposal, voter: str) -> bool:
        return bool(
            self._call.read(
                "whether a member voted", self._c.functions.hasVoted(proposal.proposal_id, voter)
            )
        )

    def deadline(self, proposal: Proposal) -> int:
        return int(
            self._call.read(
                "the proposal's deadline",
                self._c.functions.proposalDeadline(proposal.proposal_id),
            )
        )

    def snapshot(self, proposal: Proposal) -> int:
        return int(
            self._call.read(
                "the proposal's snapshot",
                self._c.functions.proposalSnapshot(proposal.proposal_id),
            )
        )

    def eta(self, proposal: Proposal) -> int:
        """When a queued proposal may execute (unix seconds)."""
        return int(
            self._call.read(
                "when the proposal may execute", self._c.functions.proposalEta(proposal.proposal_id)
            )
        )

    def quorum(self, block: int) -> int:
        return int(self._call.read("the quorum", self._c.functions.quorum(block)))

    def timelock_delay(self) -> int:
        return int(self._call.read("the timelock delay", self._timelock.functions.getMinDelay()))


def _decode(contract: Contract, calldata: bytes) -> tuple[str | None, tuple[Any, ...]]:
    """A call's function and arguments, or (None, ()) if no function of the contract has
    its selector."""
    try:
        function, args = contract.decode_function_input(calldata)
    except (ValueError, Web3Exception):
        return None, ()
    return str(function.fn_name), tuple(args.values())
