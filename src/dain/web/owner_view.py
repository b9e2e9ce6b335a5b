"""What the "My data" page shows, read from the chain: the node's assets, the consent terms
the chain holds for each, every use of each (the DataUsed events `dain audit asset` reads,
through the same `Auditor`), and what each earned per job, claimed and claimable (as
`dain rewards` computes it). Plain data, no HTML, so it can be checked against the CLI."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dain.data import format_asset_id
from dain.ledger import Auditor, JobStatus, format_dain

if TYPE_CHECKING:
    from dain.data import ConsentPolicy
    from dain.ledger import Ledger, OnChainPolicy
    from dain.node import Node


@dataclass(frozen=True)
class Earning:
    """One job's pay for one asset; `can_claim`: the claim button may send it."""

    job_id: int
    asset_id: int
    status: str
    rounds_used: int
    claimed: int
    claimable: int  # 0 until the job is settled (the first claim settles it)
    settled: bool
    can_claim: bool

    @property
    def claimable_text(self) -> str:
        """As `dain rewards` shows it: a closed job not yet settled is settled by the
        first claim, so what it pays is known only then."""
        if self.settled:
            return format_dain(self.claimable)
        closed = self.status in ("completed", "cancelled")
        return "settled at your claim" if closed and not self.claimed else format_dain(0)


@dataclass
class AssetView:
    asset_id: int
    title: str
    policy: OnChainPolicy
    uses: list[dict[str, object]] = field(default_factory=list)
    earnings: list[Earning] = field(default_factory=list)

    @property
    def hex_id(self) -> str:
        return format_asset_id(self.asset_id)

    @property
    def terms(self) -> list[tuple[str, str]]:
        """The consent terms as a person reads them, in the order the CLI shows them."""
        return [
            ("status", "revoked" if self.policy.revoked else "granted"),
            ("policy version", str(self.policy.version)),
            *policy_terms(self.policy.policy),
        ]

    @property
    def claimed(self) -> int:
        return sum(e.claimed for e in self.earnings)

    @property
    def owed(self) -> int:
        """Claimable now, as `dain audit asset` counts what waits to be claimed."""
        return sum(e.claimable for e in self.earnings)


def policy_terms(p: ConsentPolicy) -> list[tuple[str, str]]:
    """A policy's terms as a person reads them, in the order the CLI shows them."""
    return [
        ("purposes", ", ".join(p.purposes) or "-"),
        ("expiry", "never" if not p.expiry else when(p.expiry)),
        ("price per round", format_dain(p.price_per_round)),
        ("allowed requesters", ", ".join(p.allowed_requesters) or "any member"),
        ("credential issuer", p.credential_issuer or "-"),
        ("minimum participants", str(p.min_participants)),
        ("epsilon cap", "none" if p.max_epsilon is None else f"{p.max_epsilon:g}"),
        ("secure aggregation", "required" if p.secure_aggregation else "not required"),
    ]


def when(timestamp: int) -> str:
    """A chain time as the CLI writes it (UTC)."""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def owned_assets(node: Node) -> list[int]:
    """The node's assets: those it holds locally and those the chain says its key owns
    (one whose file went missing still has uses and earnings to show)."""
    assets = node.ledger.assets
    mine = set(node.assets)
    for received in assets.transfers_to(node.address):
        if received.asset_id not in mine and assets.owner_of(received.asset_id) == node.address:
            mine.add(received.asset_id)
    return sorted(mine)


def earnings(ledger: Ledger, asset_ids: list[int]) -> list[Earning]:
    """Per (job, asset): what was claimed and what can be claimed now; a closed job is
    settled by the first claim (the same rule as `dain rewards`)."""
    jobs = ledger.jobs
    rows = []
    for job_id, asset_id in sorted({(e.job_id, e.asset_id) for e in jobs.enrollments(asset_ids)}):
        job = jobs.job(job_id)
        claimed = sum(p.amount for p in jobs.rewards_paid(job_id, asset_id=asset_id))
        used = jobs.enrollment(job_id, asset_id).rounds_used
        closed = job.status in (JobStatus.COMPLETED, JobStatus.CANCELLED)
        owed = jobs.owed(job_id, asset_id) if closed else 0
        settled = closed and jobs.settlement_left(job_id) == 0
        rows.append(Earning(job_id, asset_id, job.status.name.lower(), used, claimed, owed,
                            settled, closed and not claimed and used > 0))  # fmt: skip
    return rows


def my_data(node: Node) -> list[AssetView]:
    """Every asset of the node with its terms, uses and earnings."""
    ledger = node.ledger
    auditor = Auditor(ledger)
    ids = owned_assets(node)
    paid = earnings(ledger, ids)
    views = []
    for asset_id in ids:
        local = node.assets.get(asset_id)
        trail = auditor.asset(asset_id)
        uses = [{"job": u.job_id, "round": u.round, "purpose": u.purpose,
                 "policy_version": u.policy_version, "examples": u.num_examples,
                 "time": when(u.timestamp), "block": u.block, "requester": u.requester}
                for u in trail.uses]  # fmt: skip
        views.append(AssetView(asset_id, local.title if local else "(not on this node)",
                               ledger.assets.policy(asset_id), uses,
                               [e for e in paid if e.asset_id == asset_id]))  # fmt: skip
    return views


def running_jobs(ledger: Ledger, asset_id: int) -> list[tuple[int, int, int]]:
    """(job, current round, rounds) of each running job the asset is enrolled in: the jobs
    whose next rounds a revocation leaves it out of."""
    jobs = ledger.jobs
    found = []
    for job_id in sorted({e.job_id for e in jobs.enrollments([asset_id])}):
        job = jobs.job(job_id)
        if job.status == JobStatus.RUNNING and jobs.enrollment(job_id, asset_id).enrolled:
            found.append((job_id, job.current_round, job.rounds))
    return found
