"""The contract events dain reads, each decoded in one place: its dataclass's `from_log`
turns a log, from a transaction's receipt or from the chain's log search alike, into it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Protocol, Self, TypeVar

from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import EventData, TxReceipt

from dain.data import bytes32_to_purpose
from dain.ledger.formats import format_hash


class ChainEvent(Protocol):
    EVENT: ClassVar[str]  # the event's name in the contract's ABI

    @classmethod
    def from_log(cls, log: EventData) -> Self: ...


E = TypeVar("E", bound=ChainEvent)


def in_receipt(contract: Contract, receipt: TxReceipt, kind: type[E]) -> list[E]:
    """The events of one type a transaction emitted. Decoding only: no chain request."""
    logs = getattr(contract.events, kind.EVENT)().process_receipt(receipt, errors=DISCARD)
    return [kind.from_log(log) for log in logs]


@dataclass(frozen=True)
class DataUsed:
    """One accepted receipt: the audit trail's unit."""

    EVENT: ClassVar[str] = "DataUsed"

    job_id: int
    asset_id: int
    owner: str
    round: int
    purpose: str
    policy_version: int
    num_examples: int
    update_hash: bytes
    block_number: int
    tx_hash: str
    epsilon: int = 0  # the round's privacy loss the owner signed, in millionths

    @classmethod
    def from_log(cls, log: EventData) -> DataUsed:
        args = log["args"]
        return cls(
            job_id=int(args["jobId"]),
            asset_id=int(args["assetId"]),
            owner=args["owner"],
            round=int(args["round"]),
            purpose=bytes32_to_purpose(args["purpose"]),
            policy_version=int(args["policyVersion"]),
            num_examples=int(args["numExamples"]),
            update_hash=bytes(args["updateHash"]),
            block_number=int(log["blockNumber"]),
            tx_hash=format_hash(log["transactionHash"]),
            epsilon=int(args["epsilon"]),
        )


class SkipReason(StrEnum):
    """Why a round record skipped a receipt: Jobs' SkipReason enum, in its order, in plain
    words. Each is something that happened after the owner signed (or a signature that never
    held), so the record goes on without that receipt instead of failing."""

    REVOKED = "consent revoked"
    EXPIRED = "consent expired"
    POLICY_CHANGED = "the new policy does not allow this job"
    ASSET_TRANSFERRED = "the asset changed hands"
    INVALID_SIGNATURE = "not signed by the asset's owner"
    OVER_BUDGET = "over the job's remaining privacy budget"
    TOO_FEW_PARTICIPANTS = "fewer participants than its policy asks for"

    @classmethod
    def from_chain(cls, code: int) -> SkipReason:
        return list(cls)[code]


@dataclass(frozen=True)
class ReceiptSkipped:
    """A receipt a round record left out, and why: no data use is recorded for it."""

    EVENT: ClassVar[str] = "ReceiptSkipped"

    job_id: int
    asset_id: int
    round: int
    reason: SkipReason
    block_number: int

    @classmethod
    def from_log(cls, log: EventData) -> ReceiptSkipped:
        args = log["args"]
        return cls(
            int(args["jobId"]),
            int(args["assetId"]),
            int(args["round"]),
            SkipReason.from_chain(int(args["reason"])),
            int(log["blockNumber"]),
        )


@dataclass(frozen=True)
class RewardPaid:
    """A claimed reward (the RewardClaimed event)."""

    EVENT: ClassVar[str] = "RewardClaimed"

    job_id: int
    asset_id: int
    owner: str
    amount: int
    block_number: int

    @classmethod
    def from_log(cls, log: EventData) -> RewardPaid:
        args = log["args"]
        return cls(
            int(args["jobId"]),
            int(args["assetId"]),
            args["owner"],
            int(args["amount"]),
            int(log["blockNumber"]),
        )


@dataclass(frozen=True)
class JobProposed:
    EVENT: ClassVar[str] = "JobProposed"

    job_id: int
    requester: str
    purpose: str
    reward_pool: int
    block_number: int
    tx_hash: str = ""  # the proposal's transaction: its call data holds the terms

    @classmethod
    def from_log(cls, log: EventData) -> JobProposed:
        args = log["args"]
        return cls(
            int(args["jobId"]),
            args["requester"],
            bytes32_to_purpose(args["purpose"]),
            int(args["rewardPool"]),
            int(log["blockNumber"]),
            format_hash(log["transactionHash"]),
        )


@dataclass(frozen=True)
class JobApproved:
    """A job the members' vote approved: open for enrollment from this block."""

    EVENT: ClassVar[str] = "JobApproved"

    job_id: int
    block_number: int

    @classmethod
    def from_log(cls, log: EventData) -> JobApproved:
        return cls(int(log["args"]["jobId"]), int(log["blockNumber"]))


@dataclass(frozen=True)
class AssetEnrolled:
    EVENT: ClassVar[str] = "AssetEnrolled"

    job_id: int
    asset_id: int
    owner: str
    policy_version: int
    block_number: int

    @classmethod
    def from_log(cls, log: EventData) -> AssetEnrolled:
        args = log["args"]
        return cls(int(args["jobId"]), int(args["assetId"]), args["owner"],
                   int(args["policyVersion"]), int(log["blockNumber"]))  # fmt: skip


@dataclass(frozen=True)
class RoundRecorded:
    """A round closed with a new model; its transaction also carries what the aggregator
    valued each receipt (`Jobs.values_recorded`)."""

    EVENT: ClassVar[str] = "RoundRecorded"

    job_id: int
    round: int
    model_cid: str
    aggregator: str
    participants: int
    epsilon: int  # millionths
    block_number: int
    transaction_hash: bytes

    @classmethod
    def from_log(cls, log: EventData) -> RoundRecorded:
        args = log["args"]
        return cls(
            int(args["jobId"]), int(args["round"]), str(args["modelCid"]), args["aggregator"],
            int(args["participants"]), int(args["epsilon"]), int(log["blockNumber"]),
            bytes(log["transactionHash"]),
        )  # fmt: skip


@dataclass(frozen=True)
class RoundAborted:
    """A secure-aggregation round closed without a model: too few clients survived."""

    EVENT: ClassVar[str] = "RoundAborted"

    job_id: int
    round: int
    aggregator: str
    survivors: int
    block_number: int

    @classmethod
    def from_log(cls, log: EventData) -> RoundAborted:
        args = log["args"]
        return cls(
            int(args["jobId"]),
            int(args["round"]),
            args["aggregator"],
            int(args["survivors"]),
            int(log["blockNumber"]),
        )


@dataclass(frozen=True)
class PoolRefunded:
    """Tokens of a job's pool going back to its requester: at cancellation, or when nobody's
    data was used."""

    EVENT: ClassVar[str] = "PoolRefunded"

    job_id: int
    requester: str
    amount: int
    block_number: int

    @classmethod
    def from_log(cls, log: EventData) -> PoolRefunded:
        args = log["args"]
        return cls(
            int(args["jobId"]), args["requester"], int(args["amount"]), int(log["blockNumber"])
        )


@dataclass(frozen=True)
class JobCancelled:
    EVENT: ClassVar[str] = "JobCancelled"

    job_id: int
    refund: int
    block_number: int

    @classmethod
    def from_log(cls, log: EventData) -> JobCancelled:
        args = log["args"]
        return cls(int(args["jobId"]), int(args["refund"]), int(log["blockNumber"]))


@dataclass(frozen=True)
class PolicySet:
    """An asset's consent policy granted or replaced (a new version)."""

    EVENT: ClassVar[str] = "PolicySet"

    asset_id: int
    version: int
    policy_cid: str
    block_number: int

    @classmethod
    def from_log(cls, log: EventData) -> PolicySet:
        args = log["args"]
        return cls(
            int(args["assetId"]), int(args["version"]), args["policyCid"], int(log["blockNumber"])
        )


@dataclass(frozen=True)
class ConsentRevoked:
    EVENT: ClassVar[str] = "ConsentRevoked"

    asset_id: int
    version: int
    block_number: int

    @classmethod
    def from_log(cls, log: EventData) -> ConsentRevoked:
        args = log["args"]
        return cls(int(args["assetId"]), int(args["version"]), int(log["blockNumber"]))


@dataclass(frozen=True)
class AssetTransferred:
    """An asset token changing hands (ERC-721 Transfer); minting comes from the zero address."""

    EVENT: ClassVar[str] = "Transfer"

    asset_id: int
    sender: str
    recipient: str
    block_number: int

    @classmethod
    def from_log(cls, log: EventData) -> AssetTransferred:
        args = log["args"]
        return cls(int(args["tokenId"]), args["from"], args["to"], int(log["blockNumber"]))
