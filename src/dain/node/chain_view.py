"""What a node reads from the chain while a round runs, read as seldom as is safe.

Every update of a round asks the same questions (the job, the elected aggregator, whether
the sender is a member, who owns the asset); asking the chain once a second instead of once
an update keeps the aggregator from being the round's bottleneck, and the owners of all a
job's assets come in one call, so no node's reads grow with the number of participants.
Consent is never cached: a revocation counts from the block it is mined in. Recording or
aborting a round forgets every cached answer about the round, since it is about to change."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from dain.ledger import Consent, JobInfo, JobStatus, Ledger, sample
from dain.node.clock import ChainClock

T = TypeVar("T")
FRESH_SECONDS = 1.0
_ROUND_FREE = ("member", "owners")  # reads a recorded round does not change


class ChainView:
    def __init__(self, ledger: Ledger, clock: ChainClock, fresh: float = FRESH_SECONDS) -> None:
        self.ledger = ledger
        self.clock = clock
        self.fresh = fresh
        self._reads: dict[tuple[object, ...], tuple[float, Any]] = {}
        self._enrolled: dict[int, list[int]] = {}
        self._rows: dict[int, int] = {}
        self._lock = threading.Lock()  # request handlers and the runner share the caches

    def _recent(self, key: tuple[object, ...], read: Callable[[], T]) -> T:
        """A chain read at most `fresh` seconds old (read outside the lock: reads are I/O)."""
        now = time.monotonic()
        with self._lock:
            found = self._reads.get(key)
        if found is not None and now - found[0] < self.fresh:
            return found[1]
        value = read()
        with self._lock:
            self._reads[key] = (now, value)
        return value

    def forget(self) -> None:
        """The round on chain is about to change: recent reads of it are stale (who is a
        member and who owns what do not follow rounds: they stay as fresh as they were)."""
        with self._lock:
            for key in [k for k in self._reads if k[0] not in _ROUND_FREE]:
                del self._reads[key]

    def job(self, job_id: int) -> JobInfo:
        return self._recent(("job", job_id), lambda: self.ledger.jobs.job(job_id))

    def job_for_round(self, job_id: int, round: int) -> JobInfo:
        """The job as the chain has it, read again if the copy kept here is not collecting
        `round`: another node may have just recorded the round before it."""
        job = self.job(job_id)
        if job.status == JobStatus.RUNNING and job.current_round + 1 == round:
            return job
        with self._lock:
            self._reads.pop(("job", job_id), None)
        return self.job(job_id)

    def enrolled(self, job: JobInfo) -> list[int]:
        """The job's enrolled assets; fixed once it runs, so read from chain once."""
        with self._lock:
            found = self._enrolled.get(job.job_id)
        if found is not None:
            return found
        assets = self.ledger.jobs.enrolled(job.job_id)
        if job.status == JobStatus.RUNNING:
            with self._lock:
                self._enrolled[job.job_id] = assets
        return assets

    def sample(self, job: JobInfo, round: int, asset_ids: list[int]) -> list[int]:
        """Those of `asset_ids` in the round's sample (all, when the job does not sample):
        computed here from the job's seed, or asked of the contract while nobody has drawn
        the seed yet (the contract then derives it from the start block's hash)."""
        if not job.sampling:
            return list(asset_ids)
        if any(job.seed):
            return sample(job.seed, round, asset_ids, job.sample_bps)
        return [a for a in asset_ids if self.ledger.jobs.sampled(job.job_id, round, a)]

    def aggregator(self, job_id: int, round: int) -> str:
        """Who is elected to aggregate the round now, by the chain's clock."""
        return self._recent(
            ("aggregator", job_id, round),
            lambda: self.ledger.jobs.aggregator_at(job_id, round, self.clock.now()),
        )

    def is_member(self, address: str) -> bool:
        return self._recent(("member", address), lambda: self.ledger.registry.is_member(address))

    def owners(self, job: JobInfo) -> dict[int, str]:
        """The owner of each asset enrolled in the job, in one chain call (assets change
        hands, so as recent as the other reads; enrolling another asset reads again)."""
        enrolled = self.enrolled(job)
        return self._recent(
            ("owners", job.job_id, tuple(enrolled)),
            lambda: dict(zip(enrolled, self.ledger.assets.owners(enrolled), strict=True)),
        )

    def takes_part(self, job: JobInfo, address: str) -> bool:
        """Whether `address` requested the job or owns an asset enrolled in it."""
        return address == job.requester or address in self.owners(job).values()

    def rows(self, asset_id: int) -> int:
        """The rows the asset's registration committed to; fixed for good, so read once."""
        with self._lock:
            found = self._rows.get(asset_id)
        if found is None:
            found = self.ledger.assets.rows(asset_id)
            with self._lock:
                self._rows[asset_id] = found
        return found

    def consent(self, job: JobInfo, asset_id: int) -> Consent:
        """Whether the asset's policy on chain allows the job now (never cached)."""
        return self.ledger.jobs.consent(job, asset_id)

    def allowed(self, job: JobInfo, asset_ids: list[int]) -> list[int]:
        """Those of `asset_ids` whose consent is live now."""
        return [a for a in asset_ids if self.consent(job, a) is Consent.ALLOWED]

    def live_assets(self, job: JobInfo, round: int) -> int:
        """How many of the round's sampled assets have live consent: the updates it can
        expect. Read at most once a `fresh` interval, as it costs one chain call per asset."""
        return self._recent(
            ("live", job.job_id, round),
            lambda: len(self.allowed(job, self.sample(job, round, self.enrolled(job)))),
        )

    def holders(self, job: JobInfo) -> list[str]:
        """Who likely holds the job's blobs: the last aggregator, the requester, then its
        participants; no one without a role in the job is asked. Read only when a blob is
        not here, since finding them costs chain reads."""
        peers = [job.requester, *self.owners(job).values()]
        if job.current_round > 0:
            last = self.ledger.jobs.round_record(job.job_id, job.current_round).aggregator
            peers.insert(0, last)
        return list(dict.fromkeys(peers))
