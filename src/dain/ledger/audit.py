"""The audit trail, rebuilt from chain events alone: who used which data asset, when, for
which job and purpose, under which policy version, and what was paid. Nothing here trusts
a node's word; an auditor needs only a chain endpoint and the contract addresses."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from dain.data import format_asset_id

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


_ASSET_IDS = frozenset({"asset_id", "assets"})  # fields whose numbers are asset ids


def _jsonable(value: Any, key: str = "") -> Any:
    """Asset ids as 0x and 64 hex digits; token amounts exceed JSON's safe integers, so
    large numbers are written as strings."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v, key) for v in value]
    if key in _ASSET_IDS and isinstance(value, int):
        return format_asset_id(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**53:
        return str(value)
    return value


class Auditor:
    def __init__(self, ledger: Ledger) -> None:
        self._l = ledger
        self._times: dict[int, int] = {}

    def _timestamp(self, block: int) -> int:
        if block not in self._times:
            self._times[block] = self._l.block_time(block)
        return self._times[block]

    def _payments(self, **filters: Any) -> list[Payment]:
        return [
            Payment(p.job_id, p.asset_id, p.owner, p.amount, p.block_number)
            for p in self._l.jobs.rewards_paid(**filters)
        ]

    def asset(self, asset_id: int) -> AssetTrail:
        assets, jobs = self._l.assets, self._l.jobs
        trail = AssetTrail(asset_id, assets.owner_of(asset_id))
        for set_ in assets.policy_history(asset_id):
            trail.policy_versions.append(
                {"version": set_.version, "policy_cid": set_.policy_cid, "block": set_.block_number}
            )
        for revoked in assets.revocations(asset_id):
            trail.policy_versions.append(
                {"version": revoked.version, "revoked": True, "block": revoked.block_number}
            )
        trail.policy_versions.sort(key=lambda v: v["version"])
        requesters: dict[int, str] = {}
        for use in jobs.data_used(asset_id=asset_id):
            if use.job_id not in requesters:
                requesters[use.job_id] = jobs.job(use.job_id).requester
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
        trail.paid = self._payments(asset_id=asset_id)
        for job_id in requesters:
            if owed := jobs.owed(job_id, asset_id):
                trail.owed[job_id] = owed
        return trail

    def job(self, job_id: int) -> JobTrail:
        jobs = self._l.jobs
        info = jobs.job(job_id)
        trail = JobTrail(job_id, info.requester, info.purpose, info.status.name.lower())
        uses = jobs.data_used(job_id=job_id)
        for round_no in range(1, info.current_round + 1):
            record = jobs.round_record(job_id, round_no)
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
        trail.paid = self._payments(job_id=job_id)
        trail.refunded = sum(r.amount for r in jobs.refunds(job_id))
        return trail

    def member(self, address: str) -> MemberTrail:
        assets, jobs = self._l.assets, self._l.jobs
        entry = self._l.registry.member(address)
        trail = MemberTrail(address, entry.did, entry.admitted)
        for received in assets.transfers_to(address):
            asset_id = received.asset_id
            if asset_id not in trail.assets and assets.owner_of(asset_id) == address:
                trail.assets.append(asset_id)
        trail.uses_of_their_data = sum(len(jobs.data_used(asset_id=a)) for a in trail.assets)
        trail.jobs_requested = [p.job_id for p in jobs.proposed_by(address)]
        trail.rewards_received = sum(p.amount for p in jobs.rewards_paid(owner=address))
        trail.reputation = asdict(jobs.reputation(address))
        return trail
