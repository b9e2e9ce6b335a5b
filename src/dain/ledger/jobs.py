"""Training jobs: proposal with escrow, enrollment, round records, completion and rewards."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

from web3.logs import DISCARD

from dain.data import bytes32_to_purpose, purpose_to_bytes32
from dain.ledger.receipts import Receipt
from dain.ledger.transactions import Sent

if TYPE_CHECKING:
    from dain.ledger.client import Ledger


class JobStatus(IntEnum):
    NONE = 0
    PROPOSED = 1
    APPROVED = 2
    RUNNING = 3
    COMPLETED = 4
    CANCELLED = 5


@dataclass(frozen=True)
class JobInfo:
    job_id: int
    requester: str
    purpose: str
    reward_pool: int
    rounds: int
    current_round: int
    status: JobStatus
    seed: bytes
    spec_cid: str
    model_cid: str


@dataclass(frozen=True)
class RoundInfo:
    job_id: int
    round: int
    model_cid: str
    model_hash: bytes
    aggregator: str
    participants: int
    block_number: int


@dataclass(frozen=True)
class DataUsed:
    """One accepted receipt: the audit trail's unit."""

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


@dataclass(frozen=True)
class RewardPaid:
    job_id: int
    asset_id: int
    owner: str
    amount: int
    block_number: int


class JobsClient:
    def __init__(self, ledger: Ledger) -> None:
        self._l = ledger
        self._c = ledger.contracts.jobs

    @property
    def address(self) -> str:
        return str(self._c.address)

    def propose(
        self, purpose: str, rounds: int, reward_pool: int, spec_cid: str, model_cid: str
    ) -> int:
        """Escrows `reward_pool` tokens and proposes the job; returns its id."""
        self._l.token.approve(self.address, reward_pool)
        sent = self._l.sender.send(
            "propose job",
            self._c.functions.propose(
                purpose_to_bytes32(purpose), rounds, reward_pool, spec_cid, model_cid
            ),
        )
        return int(
            self._c.events.JobProposed().process_receipt(sent.receipt, errors=DISCARD)[0]["args"][
                "jobId"
            ]
        )

    def enroll(self, job_id: int, asset_id: int) -> None:
        self._l.sender.send("enroll asset", self._c.functions.enroll(job_id, asset_id))

    def start(self, job_id: int) -> None:
        self._l.sender.send("start job", self._c.functions.start(job_id))

    def cancel(self, job_id: int) -> None:
        self._l.sender.send("cancel job", self._c.functions.cancel(job_id))

    def aggregator_of(self, job_id: int, round: int) -> str:
        return str(
            self._l.sender.call("elect aggregator", self._c.functions.aggregatorOf(job_id, round))
        )

    def record_round(
        self, job_id: int, round: int, model_cid: str, model_hash: bytes, receipts: list[Receipt]
    ) -> Sent:
        ordered = sorted(receipts, key=lambda r: r.asset_id)
        return self._l.sender.send(
            "record round",
            self._c.functions.recordRound(
                job_id, round, model_cid, model_hash, [r.as_call_argument() for r in ordered]
            ),
        )

    def complete(self, job_id: int, weights: dict[int, int]) -> None:
        assets = sorted(weights)
        self._l.sender.send(
            "complete job",
            self._c.functions.complete(job_id, assets, [weights[a] for a in assets]),
        )

    def claim(self, job_id: int, asset_id: int) -> int:
        sent = self._l.sender.send("claim reward", self._c.functions.claim(job_id, asset_id))
        return int(
            self._c.events.RewardClaimed().process_receipt(sent.receipt, errors=DISCARD)[0]["args"][
                "amount"
            ]
        )

    def job(self, job_id: int) -> JobInfo:
        (requester, purpose, pool, rounds, current, status, seed, spec, model) = (
            self._c.functions.job(job_id).call()
        )
        return JobInfo(
            job_id,
            requester,
            bytes32_to_purpose(purpose),
            int(pool),
            int(rounds),
            int(current),
            JobStatus(status),
            bytes(seed),
            spec,
            model,
        )

    def enrolled(self, job_id: int) -> list[int]:
        return [int(a) for a in self._c.functions.enrolled(job_id).call()]

    def owed(self, job_id: int, asset_id: int) -> int:
        return int(self._c.functions.owed(job_id, asset_id).call())

    def round_record(self, job_id: int, round: int) -> RoundInfo:
        cid, digest, aggregator, participants, block = self._c.functions.roundRecord(
            job_id, round
        ).call()
        return RoundInfo(
            job_id, round, cid, bytes(digest), aggregator, int(participants), int(block)
        )

    def data_used(
        self, *, job_id: int | None = None, asset_id: int | None = None
    ) -> list[DataUsed]:
        """Every accepted receipt, from chain events alone, oldest first."""
        filters = {k: v for k, v in (("jobId", job_id), ("assetId", asset_id)) if v is not None}
        logs = self._c.events.DataUsed().get_logs(argument_filters=filters or None, from_block=0)
        return [
            DataUsed(
                job_id=int(log["args"]["jobId"]),
                asset_id=int(log["args"]["assetId"]),
                owner=log["args"]["owner"],
                round=int(log["args"]["round"]),
                purpose=bytes32_to_purpose(log["args"]["purpose"]),
                policy_version=int(log["args"]["policyVersion"]),
                num_examples=int(log["args"]["numExamples"]),
                update_hash=bytes(log["args"]["updateHash"]),
                block_number=int(log["blockNumber"]),
                tx_hash=log["transactionHash"].hex(),
            )
            for log in logs
        ]

    def rewards_paid(self, job_id: int) -> list[RewardPaid]:
        logs = self._c.events.RewardClaimed().get_logs(
            argument_filters={"jobId": job_id}, from_block=0
        )
        return [
            RewardPaid(
                int(log["args"]["jobId"]),
                int(log["args"]["assetId"]),
                log["args"]["owner"],
                int(log["args"]["amount"]),
                int(log["blockNumber"]),
            )
            for log in logs
        ]
