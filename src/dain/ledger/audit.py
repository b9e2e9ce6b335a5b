"""The audit trail, rebuilt from chain events alone: who used which data asset, when, for
which job and purpose, under which policy version, and what was paid. Nothing here trusts
a node's word; an auditor needs only a chain endpoint and the contract addresses."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dain.ledger.client import Ledger


@dataclass(frozen=True)
class Use:
    job_id: int
    requester: str
    round: int
    purpose: str
    policy_version: int
    num_examples: int
    block: int
    timestamp: int
    tx_hash: str


@dataclass(frozen=True)
class Payment:
    job_id: int
    asset_id: int
    owner: str
    amount: int
    block: int


@dataclass
class AssetTrail:
    asset_id: int
    owner: str
    policy_versions: list[dict[str, Any]] = field(default_factory=list)  # version, cid, block
    uses: list[Use] = field(default_factory=list)
    paid: list[Payment] = field(default_factory=list)
    owed: dict[int, int] = field(default_factory=dict)  # job -> not yet claimed

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass
class JobTrail:
    job_id: int
    requester: str
    purpose: str
    status: str
    rounds: list[dict[str, Any]] = field(default_factory=list)
    uses: list[dict[str, Any]] = field(default_factory=list)
    paid: list[Payment] = field(default_factory=list)
    refunded: int = 0

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass
class MemberTrail:
    address: str
    did: str
    admitted: bool
    assets: list[int] = field(default_factory=list)
    uses_of_their_data: int = 0
    jobs_requested: list[int] = field(default_factory=list)
    rewards_received: int = 0
    reputation: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


def _jsonable(value: Any) -> Any:
    """Asset ids and token amounts exceed JSON's safe integers: write them as strings."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**53:
        return str(value)
    return value


class Auditor:
    def __init__(self, ledger: Ledger) -> None:
        self._l = ledger
        self._jobs = ledger.contracts.jobs
        self._assets = ledger.contracts.assets
        self._times: dict[int, int] = {}

    def _timestamp(self, block: int) -> int:
        if block not in self._times:
            self._times[block] = int(self._l.web3.eth.get_block(block)["timestamp"])
        return self._times[block]

    def _payments(self, **filters: int) -> list[Payment]:
        logs = self._jobs.events.RewardClaimed().get_logs(argument_filters=filters, from_block=0)
        return [
            Payment(int(g["args"]["jobId"]), int(g["args"]["assetId"]), g["args"]["owner"],
                    int(g["args"]["amount"]), int(g["blockNumber"]))
            for g in logs
        ]  # fmt: skip

    def asset(self, asset_id: int) -> AssetTrail:
        trail = AssetTrail(asset_id, self._l.assets.owner_of(asset_id))
        for log in self._assets.events.PolicySet().get_logs(
            argument_filters={"assetId": asset_id}, from_block=0
        ):
            trail.policy_versions.append(
                {"version": int(log["args"]["version"]), "policy_cid": log["args"]["policyCid"],
                 "block": int(log["blockNumber"])}
            )  # fmt: skip
        for log in self._assets.events.ConsentRevoked().get_logs(
            argument_filters={"assetId": asset_id}, from_block=0
        ):
            trail.policy_versions.append(
                {
                    "version": int(log["args"]["version"]),
                    "revoked": True,
                    "block": int(log["blockNumber"]),
                }
            )
        trail.policy_versions.sort(key=lambda v: v["version"])
        requesters: dict[int, str] = {}
        for use in self._l.jobs.data_used(asset_id=asset_id):
            if use.job_id not in requesters:
                requesters[use.job_id] = self._l.jobs.job(use.job_id).requester
            trail.uses.append(
                Use(
                    job_id=use.job_id,
                    requester=requesters[use.job_id],
                    round=use.round,
                    purpose=use.purpose,
                    policy_version=use.policy_version,
                    num_examples=use.num_examples,
                    block=use.block_number,
                    timestamp=self._timestamp(use.block_number),
                    tx_hash=use.tx_hash,
                )
            )
        trail.paid = self._payments(assetId=asset_id)
        for job_id in requesters:
            if owed := self._l.jobs.owed(job_id, asset_id):
                trail.owed[job_id] = owed
        return trail

    def job(self, job_id: int) -> JobTrail:
        info = self._l.jobs.job(job_id)
        trail = JobTrail(job_id, info.requester, info.purpose, info.status.name.lower())
        uses = self._l.jobs.data_used(job_id=job_id)
        for round_no in range(1, info.current_round + 1):
            record = self._l.jobs.round_record(job_id, round_no)
            trail.rounds.append(
                {"round": round_no, "model_cid": record.model_cid, "aggregator": record.aggregator,
                 "participants": record.participants, "epsilon": record.epsilon,
                 "block": record.block_number}
            )  # fmt: skip
        trail.uses = [
            {
                "round": u.round,
                "asset_id": u.asset_id,
                "owner": u.owner,
                "policy_version": u.policy_version,
                "num_examples": u.num_examples,
                "block": u.block_number,
            }
            for u in uses
        ]
        trail.paid = self._payments(jobId=job_id)
        for log in self._jobs.events.JobCancelled().get_logs(
            argument_filters={"jobId": job_id}, from_block=0
        ):
            trail.refunded += int(log["args"]["refund"])
        return trail

    def member(self, address: str) -> MemberTrail:
        entry = self._l.registry.member(address)
        trail = MemberTrail(address, entry.did, entry.admitted)
        owned = self._assets.events.Transfer().get_logs(
            argument_filters={"to": address}, from_block=0
        )
        for log in owned:
            asset_id = int(log["args"]["tokenId"])
            if self._l.assets.owner_of(asset_id) == address and asset_id not in trail.assets:
                trail.assets.append(asset_id)
        trail.uses_of_their_data = sum(
            len(self._l.jobs.data_used(asset_id=a)) for a in trail.assets
        )
        trail.jobs_requested = [
            int(g["args"]["jobId"])
            for g in self._jobs.events.JobProposed().get_logs(
                argument_filters={"requester": address}, from_block=0
            )
        ]
        trail.rewards_received = sum(
            int(g["args"]["amount"])
            for g in self._jobs.events.RewardClaimed().get_logs(
                argument_filters={"owner": address}, from_block=0
            )
        )
        trail.reputation = asdict(self._l.jobs.reputation(address))
        return trail
