"""Auto-enroll, for owners who opt in (node.toml's [auto_enroll]): the node enrolls its
assets in approved jobs whose terms each asset's own consent policy allows (purpose,
requester, epsilon, secure aggregation), whose pool pays the asset's price for every round,
and that have room; each (job, asset) pair is decided once, and logged.

Candidate jobs come from JobApproved events read from the block after the last look, so a
step never reads every job ever proposed: only the members' vote makes a job a candidate,
and a job stops being one when it starts (enrollment closes)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from dain.data import ConsentPolicy, check_purpose
from dain.errors import DainError
from dain.identity import did_pkh
from dain.ledger import TOKEN_UNIT, Consent, JobInfo, JobStatus, TransactionRefused
from dain.node.context import LocalAsset, NodeContext
from dain.node.home import AutoEnrollConfig

log = logging.getLogger(__name__)


class AutoEnroller:
    def __init__(
        self,
        ctx: NodeContext,
        enroll: Callable[[int, int], None],
        settings: AutoEnrollConfig,
        misfit: Callable[[JobInfo, LocalAsset], str] | None = None,
    ) -> None:
        """`enroll(job_id, asset_id)` enrolls one asset (the node's, which also publishes a
        secure job's agreement key); `misfit(job, asset)` says why the asset's rows do not
        fit the job's input schema ('' if they do), from the job's spec."""
        for purpose in settings.purposes:
            check_purpose(purpose)  # a mistyped purpose would silently match no job
        self.ctx = ctx
        self.enroll = enroll
        self.settings = settings
        self.misfit = misfit
        self._only = settings.asset_ids()
        self._read_to = -1  # the last block whose approvals were read
        self._open: set[int] = set()  # approved jobs not seen started or closed yet
        self._decided: set[tuple[int, int]] = set()  # (job, asset): enrolled, or never will be

    def step(self) -> list[tuple[int, int]]:
        """Reads the approvals since the last look and enrolls what may be; returns the
        (job, asset) pairs enrolled. A job whose enrollment fails is tried again next step."""
        ledger = self.ctx.ledger
        head = ledger.block_number()
        if head > self._read_to:
            self._open.update(a.job_id for a in ledger.jobs.approvals(self._read_to + 1, head))
            self._read_to = head
        enrolled = []
        for job_id in sorted(self._open):
            assets = [a for a in self._assets() if (job_id, a.asset_id) not in self._decided]
            if not assets:
                continue  # nothing left to decide: no chain read
            job = ledger.jobs.job(job_id)
            if job.status != JobStatus.APPROVED:
                self._open.discard(job_id)  # started or cancelled: enrollment is closed
                continue
            try:
                enrolled += self._consider(job, assets)
            except DainError as exc:  # the chain refused or could not be read: next step
                log.warning("%s: auto-enroll in job %d failed: %s", self.ctx.name, job_id, exc)
        return enrolled

    def _assets(self) -> list[LocalAsset]:
        mine = self.ctx.assets
        return [a for i, a in sorted(mine.items()) if not self._only or i in self._only]

    def _consider(self, job: JobInfo, assets: list[LocalAsset]) -> list[tuple[int, int]]:
        present = set(self.ctx.ledger.jobs.enrolled(job.job_id))
        price = job.price_per_round  # what the assets enrolled so far ask per round
        done = []
        for asset in assets:
            # ChainUnavailable leaves the pair undecided, for the next step
            if self._decide(job, asset, present, price):
                done.append((job.job_id, asset.asset_id))
                price += asset.policy.price_per_round
            self._decided.add((job.job_id, asset.asset_id))
        return done

    def _decide(self, job: JobInfo, asset: LocalAsset, present: set[int], price: int) -> bool:
        """Enrolls the asset if it may join; whether it did. `present` (the job's assets)
        grows with it; `price` is what they ask per round."""
        if asset.asset_id in present:  # enrolled already: by hand, or before a restart
            return False
        name, short = self.ctx.name, _short(asset.asset_id)
        reason = self._refusal(job, asset, price)
        if not reason and len(present) >= job.max_assets:
            reason = f"the job is full ({job.max_assets} assets)"
        if reason:
            log.info("%s: not auto-enrolling asset %s in job %d: %s", name, short, job.job_id,
                     reason)  # fmt: skip
            return False
        try:
            self.enroll(job.job_id, asset.asset_id)
        except TransactionRefused as exc:  # the contract's word is final
            log.warning("%s: job %d refused asset %s: %s", name, job.job_id, short, exc)
            return False
        present.add(asset.asset_id)
        log.info("%s: auto-enrolled asset %s in job %d (purpose %s, %d rounds, pool %s)",
                 name, short, job.job_id, job.purpose, job.rounds,
                 _dain(job.reward_pool))  # fmt: skip
        return True

    def _refusal(self, job: JobInfo, asset: LocalAsset, price: int) -> str:
        """Why the asset may not join the job ('' if it may): the owner's settings, its
        own copy of the policy, the pool, then the chain's view of its consent."""
        ledger = self.ctx.ledger
        if self.settings.purposes and job.purpose not in self.settings.purposes:
            return f"purpose {job.purpose} is not among auto_enroll's purposes"
        allowed = asset.policy.allows(
            job.purpose, ledger.now(), requester=did_pkh(ledger.chain_id, job.requester),
            secure_aggregation=job.secure_aggregation, epsilon=job.max_epsilon,
        )  # fmt: skip
        if not allowed:
            return f"its consent policy does not allow {_term_refused(asset.policy, job)}"
        # the pool must pay every asset enrolled, this one too, for every round
        if (price + asset.policy.price_per_round) * job.rounds > job.reward_pool:
            return f"the pool ({_dain(job.reward_pool)}) cannot pay its price for every round"
        consent = self.ctx.chain.consent(job, asset.asset_id)
        if consent is not Consent.ALLOWED:
            return f"its consent on chain says {consent.name.lower()}"
        # last: it reads the job's spec from a peer (members may); a failure leaves the
        # pair undecided for the next step
        return self.misfit(job, asset) if self.misfit is not None else ""


def _term_refused(policy: ConsentPolicy, job: JobInfo) -> str:
    """Which of the job's terms the policy refused, in words (`allows` said no)."""
    if job.purpose not in policy.purposes:
        return f"purpose {job.purpose}"
    if policy.secure_aggregation and not job.secure_aggregation:
        return "a job without secure aggregation"
    if policy.max_epsilon is not None and (
        job.max_epsilon is None or job.max_epsilon > policy.max_epsilon
    ):
        spent = "no privacy bound" if job.max_epsilon is None else f"epsilon {job.max_epsilon:g}"
        return f"{spent} (its most is {policy.max_epsilon:g})"
    return "this requester, or not any more (expired)"


def _dain(amount: int) -> str:
    return f"{amount / TOKEN_UNIT:g} DAIN"


def _short(asset_id: int) -> str:
    return f"{asset_id:#066x}"[:14] + "…"


def auto_enroller(
    ctx: NodeContext,
    enroll: Callable[[int, int], None],
    settings: AutoEnrollConfig,
    misfit: Callable[[JobInfo, LocalAsset], str] | None = None,
) -> AutoEnroller | None:
    """The enroller node.toml asks for: None unless the owner opted in."""
    return AutoEnroller(ctx, enroll, settings, misfit) if settings.enabled else None
