"""Training jobs: proposal with escrow, enrollment, round records, completion, settlement
and rewards. What each owner is paid is the contract's to compute (`dain.incentives`
repeats it); a finished job settles asset by asset in bounded batches, which `claim` pushes
along when needed."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import IntEnum

from web3.contract import Contract

from dain.data import bytes32_to_purpose, purpose_to_bytes32
from dain.ledger.assets import (
    EPSILON_SCALE,
    AssetsClient,
    Consent,
    epsilon_from_chain,
    epsilon_to_chain,
)
from dain.ledger.caller import ChainCaller
from dain.ledger.errors import ChainUnavailable
from dain.ledger.events import (
    AssetEnrolled,
    DataUsed,
    JobApproved,
    JobCancelled,
    JobProposed,
    PoolRefunded,
    ReceiptSkipped,
    RewardPaid,
    RoundAborted,
    RoundRecorded,
    in_receipt,
)
from dain.ledger.receipts import Receipt
from dain.ledger.transactions import Sent


def round_epsilon_to_chain(epsilon: float) -> int:
    """A round's privacy loss in millionths, rounded up so the budget is never undercounted:
    what a receipt carries."""
    return math.ceil(epsilon * EPSILON_SCALE)


class JobStatus(IntEnum):
    NONE = 0
    PROPOSED = 1
    APPROVED = 2
    RUNNING = 3
    COMPLETED = 4
    CANCELLED = 5


@dataclass(frozen=True)
class JobTerms:
    """What a requester proposes. `max_epsilon` None: the job promises no privacy bound."""

    purpose: str
    rounds: int
    reward_pool: int
    spec_cid: str
    model_cid: str
    round_duration: int = 600  # seconds the elected aggregator has before failover
    max_epsilon: float | None = None
    secure_aggregation: bool = False
    max_assets: int = 100  # the most assets that may enroll (the network allows up to 256)
    # per-round sampling (dain.ledger.sampling), at most one of: each asset's chance in basis
    # points (0 or 10,000: every asset), or about this many assets a round (a rate fixed
    # when the job starts, over the assets enrolled then)
    sample_bps: int = 0
    sample_count: int = 0


@dataclass(frozen=True)
class JobInfo:
    job_id: int
    requester: str
    purpose: str
    rounds: int
    current_round: int
    status: JobStatus
    secure_aggregation: bool
    round_duration: int
    round_opened_at: int
    max_epsilon: float | None
    epsilon_spent: float
    reward_pool: int
    price_per_round: int
    seed: bytes  # zero bytes until drawn from the start block's hash
    spec_cid: str
    model_cid: str
    max_assets: int = 100
    seed_block: int = 0  # the block whose hash fixes the seed: the start's own
    sample_bps: int = 0  # each asset's chance per round to be sampled; 0: every asset
    sample_count: int = 0  # as proposed; a rate over the assets enrolled once it starts

    @property
    def sampling(self) -> bool:
        """Whether rounds take a sample of the assets (a count job: once it starts)."""
        return self.sample_bps != 0


@dataclass(frozen=True)
class Enrollment:
    enrolled: bool
    policy_version: int
    min_participants: int
    rounds_used: int
    index: int = 0  # place in the job's enrollment order
    rows: int = 0  # rows the asset's registration committed to: a receipt's most examples
    examples: int = 0  # examples over its accepted receipts


@dataclass(frozen=True)
class Settlement:
    """A closed job's payout as the contract builds it, asset by asset."""

    settled: int  # enrolled assets settled so far
    contributors: int  # ... that took part in a round
    full: int  # ... that took part in every round paid for
    floor_bps: int
    rounds_paid: int
    done: bool  # every asset settled: amounts are fixed and claimable
    by_examples: bool  # every weight was 0: the rest went by examples alone
    pool: int  # what the owners share
    prices: int
    weights: int
    examples: int
    floor_pool: int
    share_pool: int


@dataclass(frozen=True)
class Reputation:
    rounds_completed: int
    rounds_missed: int
    updates_rejected: int
    aggregations_missed: int


@dataclass(frozen=True)
class RoundInfo:
    job_id: int
    round: int
    model_cid: str
    model_hash: bytes
    aggregator: str
    participants: int
    epsilon: float
    block_number: int


class JobsClient:
    """The Jobs contract. Consent is judged by DataAssets against a job's terms, so the
    client is given the assets client it asks."""

    def __init__(self, contract: Contract, caller: ChainCaller, assets: AssetsClient) -> None:
        self._c = contract
        self._call = caller
        self._assets = assets

    @property
    def address(self) -> str:
        return str(self._c.address)

    def propose(self, terms: JobTerms) -> int:
        """Proposes the job and escrows its pool, which this identity must first have
        approved the Jobs contract to take (Ledger.propose_job does both); returns its id."""
        sent = self._call.send(
            "propose the job",
            self._c.functions.propose(
                (
                    purpose_to_bytes32(terms.purpose),
                    terms.rounds,
                    terms.round_duration,
                    epsilon_to_chain(terms.max_epsilon),
                    terms.secure_aggregation,
                    terms.max_assets,
                    terms.sample_bps,
                    terms.sample_count,
                    terms.reward_pool,
                    terms.spec_cid,
                    terms.model_cid,
                )
            ),
        )
        (proposed,) = in_receipt(self._c, sent.receipt, JobProposed)
        return proposed.job_id

    def enroll(self, job_id: int, asset_id: int, agreement_key: bytes = b"") -> None:
        """Enrolls the asset; a secure-aggregation job also needs the owner's X25519
        public key for it (32 bytes), which peers agree share-encryption keys with."""
        if agreement_key and len(agreement_key) != 32:
            raise ValueError("An agreement key is 32 bytes.")
        key = agreement_key or bytes(32)
        self._call.send("enroll the asset", self._c.functions.enroll(job_id, asset_id, key))

    def agreement_keys(self, job_id: int) -> dict[int, bytes]:
        """The X25519 keys published at enrollment, by asset (zero bytes when none)."""
        return {
            asset: bytes(
                self._call.read("an agreement key", self._c.functions.agreementKey(job_id, asset))
            )
            for asset in self.enrolled(job_id)
        }

    def abort_round(self, job_id: int, round: int, survivors: int) -> Sent:
        """Closes a secure-aggregation round that too few clients survived: no new model."""
        return self._call.send(
            "abort the round", self._c.functions.abortRound(job_id, round, survivors)
        )

    def aborts(self, job_id: int) -> list[RoundAborted]:
        return self._call.events("the aborted rounds", self._c, RoundAborted, {"jobId": job_id})

    def rounds_aborted(self, job_id: int) -> list[int]:
        return sorted(a.round for a in self.aborts(job_id))

    def start(self, job_id: int) -> None:
        """Closes enrollment, then draws the seed from the start block's hash (a second
        transaction, in a later block), so that every node can elect aggregators at once."""
        self._call.send("start the job", self._c.functions.start(job_id))
        self.draw_seed(job_id)

    def draw_seed(self, job_id: int) -> bytes:
        """Fixes the job's seed if nobody has yet; anyone may, and all get the same one.
        Returns it (zero bytes if the chain has not sealed a block after the start yet)."""
        seed = self.job(job_id).seed
        if not any(seed):
            self._call.send("draw the job's seed", self._c.functions.drawSeed(job_id))
            seed = self.job(job_id).seed
        return seed

    def cancel(self, job_id: int) -> None:
        """The requester withdraws the job before its last round is recorded; the owners
        keep what the rounds done earned them."""
        self._call.send("cancel the job", self._c.functions.cancel(job_id))

    def aggregator_at(self, job_id: int, round: int, at: float) -> str:
        """Who aggregates at time `at` (unix seconds): the chain's answer by a node's clock."""
        return str(
            self._call.read(
                "the round's aggregator", self._c.functions.aggregatorAt(job_id, round, int(at))
            )
        )

    def aggregator_of(self, job_id: int, round: int) -> str:
        return str(
            self._call.read("the round's aggregator", self._c.functions.aggregatorOf(job_id, round))
        )

    def sampled(self, job_id: int, round: int, asset_id: int) -> bool:
        """Whether the asset is in the round's sample, by the contract (always, when the
        job does not sample); `dain.ledger.in_sample` computes the same without a call."""
        return bool(
            self._call.read(
                "whether the asset is sampled", self._c.functions.sampled(job_id, round, asset_id)
            )
        )

    def record_round(
        self,
        job_id: int,
        round: int,
        model_cid: str,
        model_hash: bytes,
        receipts: list[Receipt],
        *,
        values: Mapping[int, int] | None = None,
        rejected: list[str] | None = None,
    ) -> Sent:
        """Records the round with its receipts (the round's epsilon is the largest they
        carry) and, in a job without secure aggregation, this aggregator's value of each
        receipt's update by asset (an int16, `dain.incentives.encode_round`; assets not
        named get 0, and the contract ignores values for this aggregator's own assets)."""
        ordered = sorted(receipts, key=lambda r: r.asset_id)
        values_in_order = [values.get(r.asset_id, 0) for r in ordered] if values else []
        return self._call.send(
            "record the round",
            self._c.functions.recordRound(
                job_id,
                round,
                model_cid,
                model_hash,
                [r.as_call_argument() for r in ordered],
                values_in_order,
                rejected or [],
            ),
        )

    def data_used_in(self, sent: Sent) -> list[DataUsed]:
        """The receipts a round's record accepted, from its transaction receipt."""
        return in_receipt(self._c, sent.receipt, DataUsed)

    def skipped_in(self, sent: Sent) -> list[ReceiptSkipped]:
        """The receipts a round's record skipped, and why, from its transaction receipt."""
        return in_receipt(self._c, sent.receipt, ReceiptSkipped)

    def receipts_skipped(self, job_id: int) -> list[ReceiptSkipped]:
        return self._call.events(
            "the skipped receipts", self._c, ReceiptSkipped, {"jobId": job_id}
        )

    def complete(self, job_id: int) -> None:
        """Completes a job whose last round is recorded; anyone may. The contract computes
        each owner's pay and settles the first assets at once."""
        self._call.send("complete the job", self._c.functions.complete(job_id))

    def settle(self, job_id: int, batches: int = 1) -> int:
        """Settles the next `batches` batches of assets of a closed job (24 each, as their
        values share a storage slot); anyone may. Returns how many assets are left."""
        self._call.send("settle the job", self._c.functions.settle(job_id, batches))
        return self.settlement_left(job_id)

    def settlement_left(self, job_id: int) -> int:
        """Assets of a closed job not settled yet (0 once it is)."""
        settled = self.settlement(job_id)
        return 0 if settled.done else len(self.enrolled(job_id)) - settled.settled

    def settlement(self, job_id: int) -> Settlement:
        raw = self._call.read("the job's settlement", self._c.functions.settlement(job_id))
        (settled, contributors, full, floor_bps, rounds_paid, done, by_examples, pool, prices,
         weights, examples, floor_pool, share_pool) = raw  # fmt: skip
        return Settlement(
            int(settled), int(contributors), int(full), int(floor_bps), int(rounds_paid),
            bool(done), bool(by_examples), int(pool), int(prices), int(weights), int(examples),
            int(floor_pool), int(share_pool),
        )  # fmt: skip

    def consent(self, job: JobInfo, asset_id: int) -> Consent:
        """Whether the asset's current policy allows this job: Consent.ALLOWED, or why not."""
        return self._assets.consent_for(
            asset_id,
            job.purpose,
            job.requester,
            secure_aggregation=job.secure_aggregation,
            epsilon=job.max_epsilon,
        )

    def claim(self, job_id: int, asset_id: int) -> int:
        """Claims the asset's reward for its owner (this identity), settling whatever of
        the job is left to settle first; returns the amount paid."""
        status = self.job(job_id).status
        if status in (JobStatus.COMPLETED, JobStatus.CANCELLED):
            while self.settlement_left(job_id):
                self.settle(job_id)
        sent = self._call.send("claim the reward", self._c.functions.claim(job_id, asset_id))
        (paid,) = in_receipt(self._c, sent.receipt, RewardPaid)
        return paid.amount

    def job(self, job_id: int) -> JobInfo:
        (requester, rounds, current, status, secure, max_assets, purpose, duration, opened,
         max_eps, spent, seed_block, _valued, sample_bps, sample_count, pool, price, seed, spec,
         model) = self._call.read(
            "the job", self._c.functions.job(job_id))  # fmt: skip
        return JobInfo(
            job_id=job_id,
            requester=requester,
            purpose=bytes32_to_purpose(purpose),
            rounds=int(rounds),
            current_round=int(current),
            status=JobStatus(status),
            secure_aggregation=bool(secure),
            round_duration=int(duration),
            round_opened_at=int(opened),
            max_epsilon=epsilon_from_chain(int(max_eps)),
            epsilon_spent=int(spent) / EPSILON_SCALE,
            reward_pool=int(pool),
            price_per_round=int(price),
            seed=bytes(seed),
            spec_cid=spec,
            model_cid=model,
            max_assets=int(max_assets),
            seed_block=int(seed_block),
            sample_bps=int(sample_bps),
            sample_count=int(sample_count),
        )

    def enrollment(self, job_id: int, asset_id: int) -> Enrollment:
        enrolled, index, minimum, version, used, rows, examples = self._call.read(
            "the asset's enrollment", self._c.functions.enrollment(job_id, asset_id)
        )
        return Enrollment(bool(enrolled), int(version), int(minimum), int(used), int(index),
                          int(rows), int(examples))  # fmt: skip

    def candidates(self, job_id: int) -> list[str]:
        """Owners who may be elected aggregator, in the order the election walks them."""
        return list(
            self._call.read("the aggregator candidates", self._c.functions.candidates(job_id))
        )

    def reputation(self, member: str) -> Reputation:
        raw = self._call.read("a member's reputation", self._c.functions.reputation(member))
        return Reputation(*(int(v) for v in raw))

    def quality_of(self, job_id: int, asset_id: int) -> int:
        """The asset's quality in the job, 0 .. 500 (FULL_AT), from the values recorded so far."""
        return int(
            self._call.read("the asset's quality", self._c.functions.qualityOf(job_id, asset_id))
        )

    def floor_share_bps(self) -> int:
        return int(self._call.read("the reward floor share", self._c.functions.floorShareBps()))

    def min_reward_pool(self) -> int:
        return int(self._call.read("the smallest reward pool", self._c.functions.minRewardPool()))

    def max_assets_per_job(self) -> int:
        return int(
            self._call.read("the most assets per job", self._c.functions.maxAssetsPerJob())
        )

    def count(self) -> int:
        """How many jobs were ever proposed; ids run from 1."""
        return int(self._call.read("the number of jobs", self._c.functions.jobCount()))

    def enrolled(self, job_id: int) -> list[int]:
        return [
            int(a)
            for a in self._call.read("the enrolled assets", self._c.functions.enrolled(job_id))
        ]

    def owed(self, job_id: int, asset_id: int) -> int:
        """What the asset can claim now: 0 until its job is settled, and once claimed."""
        return int(self._call.read("the reward owed", self._c.functions.owed(job_id, asset_id)))

    def round_record(self, job_id: int, round: int) -> RoundInfo:
        cid, digest, aggregator, participants, epsilon, block = self._call.read(
            "the round's record", self._c.functions.roundRecord(job_id, round)
        )
        return RoundInfo(
            job_id,
            round,
            cid,
            bytes(digest),
            aggregator,
            int(participants),
            int(epsilon) / EPSILON_SCALE,
            int(block),
        )

    def enrollments(
        self, asset_ids: Collection[int], from_block: int = 0, to_block: int | None = None
    ) -> list[AssetEnrolled]:
        """Every enrollment of these assets in any job, in blocks `from_block` to `to_block`:
        how a node finds its jobs without reading every job ever proposed."""
        if not asset_ids:
            return []
        return self._call.events("the enrollments", self._c, AssetEnrolled,
                                 {"assetId": sorted(asset_ids)}, from_block=from_block,
                                 to_block=to_block)  # fmt: skip

    def approvals(self, from_block: int = 0, to_block: int | None = None) -> list[JobApproved]:
        """Every job approval in blocks `from_block` to `to_block`: how a node looks for jobs
        to enroll in, reading only the blocks since its last look."""
        return self._call.events("the job approvals", self._c, JobApproved,
                                 from_block=from_block, to_block=to_block)  # fmt: skip

    def records(self, job_id: int) -> list[RoundRecorded]:
        """The job's round records, oldest first."""
        return self._call.events("the round records", self._c, RoundRecorded, {"jobId": job_id})

    def values_recorded(self, job_id: int, round: int) -> dict[int, int]:
        """What the round's aggregator valued each accepted receipt's update at, by asset
        (`dain.incentives.encode_round`); empty when it recorded no values. The contract
        keeps only their credits, so they are read back from the record's call data; the
        aggregator's own assets, which the contract does not credit, are left out."""
        record = next((r for r in self.records(job_id) if r.round == round), None)
        if record is None:
            return {}
        data = self._call.transaction_input(record.transaction_hash)
        _, call = self._c.decode_function_input(data)
        if not call["values"]:
            return {}
        used = {u.asset_id for u in self.data_used(job_id=job_id)
                if u.round == round and u.owner != record.aggregator}  # fmt: skip
        pairs = zip(call["receipts"], call["values"], strict=True)
        by_asset = {int(receipt["assetId"]): int(value) for receipt, value in pairs}
        return {asset: value for asset, value in sorted(by_asset.items()) if asset in used}

    def data_used(
        self, *, job_id: int | None = None, asset_id: int | None = None
    ) -> list[DataUsed]:
        """Every accepted receipt, from chain events alone, oldest first."""
        filters = {k: v for k, v in (("jobId", job_id), ("assetId", asset_id)) if v is not None}
        return self._call.events("the data-use records", self._c, DataUsed, filters)

    def rewards_paid(
        self, job_id: int | None = None, *, asset_id: int | None = None, owner: str | None = None
    ) -> list[RewardPaid]:
        filters = {
            k: v
            for k, v in (("jobId", job_id), ("assetId", asset_id), ("owner", owner))
            if v is not None
        }
        return self._call.events("the rewards paid", self._c, RewardPaid, filters)

    def proposal(self, job_id: int) -> JobProposed:
        """The job's proposal event (its transaction's call data holds the first terms)."""
        found = self._call.events("the job's proposal", self._c, JobProposed, {"jobId": job_id})
        if not found:
            raise ChainUnavailable(f"No proposal of job {job_id} is on this chain.")
        return found[0]

    def initial_model_cid(self, job_id: int) -> str:
        """The model the job started from: the job keeps only its current one on chain."""
        sent = self.proposal(job_id)
        _, call = self._c.decode_function_input(
            self._call.transaction_input(bytes.fromhex(sent.tx_hash[2:]))
        )
        return str(call["t"]["modelCid"])  # structs decode as dicts by field name

    def proposed_by(self, requester: str) -> list[JobProposed]:
        return self._call.events(
            "the jobs proposed", self._c, JobProposed, {"requester": requester}
        )

    def cancellations(self, job_id: int) -> list[JobCancelled]:
        return self._call.events("the job's cancellation", self._c, JobCancelled, {"jobId": job_id})

    def refunds(self, job_id: int) -> list[PoolRefunded]:
        """Tokens of the job's pool that went back to its requester."""
        return self._call.events("the job's refunds", self._c, PoolRefunded, {"jobId": job_id})
