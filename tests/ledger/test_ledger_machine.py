"""The ledger as a state machine (hypothesis): random sequences of propose, vote, enroll,
record, revoke, re-grant, transfer, cancel, complete, settle and claim on the embedded chain.
After every step every token is somewhere (with a holder or in escrow) and the escrow holds
exactly what running jobs escrowed plus what closed jobs still owe; each closed job owes each
asset what dain.incentives.settlement computes from the records; at the end every job is
closed, everything owed is claimed by whoever holds the asset then, and the escrow is 0."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from dain.data import ConsentPolicy
from dain.devnet.network import pass_proposal
from dain.identity import Identity
from dain.incentives.settlement import AssetUse, cancel_split, settle
from dain.ledger import (
    TOKEN_UNIT,
    EmbeddedChain,
    JobStatus,
    JobTerms,
    Ledger,
    LedgerError,
    NetworkParams,
    Receipt,
    TransactionRefused,
    deploy,
)
from tests.conftest import manifest

OWNERS = 3
PRICES = (0, TOKEN_UNIT, 2 * TOKEN_UNIT)  # per round, of each owner's asset


@dataclass
class JobModel:
    """What the machine expects of one job, from what it did."""

    job_id: int
    pool: int
    rounds: int
    status: JobStatus = JobStatus.PROPOSED
    enrolled: list[int] = field(default_factory=list)  # assets, in enrollment order
    prices: dict[int, int] = field(default_factory=dict)
    current_round: int = 0
    used: dict[int, int] = field(default_factory=dict)  # asset -> rounds used
    examples: dict[int, int] = field(default_factory=dict)
    # asset -> the aggregator (judge) that valued it -> the values it recorded
    values: dict[int, dict[str, list[int]]] = field(default_factory=dict)
    to_owners: int = 0  # what the owners share once closed


class LedgerMachine(RuleBasedStateMachine):
    @initialize()
    def deploy_network(self) -> None:
        self.chain = EmbeddedChain()
        treasury = Identity.create()
        self.chain.fund(treasury.address, 10**21)
        people = [Identity.create() for _ in range(OWNERS + 1)]
        params = NetworkParams(voting_period=3, timelock_delay=1,
                               token_supply=100_000 * TOKEN_UNIT)  # fmt: skip
        founders = [p.address for p in people]
        deployment = deploy(self.chain.web3, treasury, params, founders=founders,
                            gas_limit=self.chain.gas_limit)  # fmt: skip
        self.root = Ledger(self.chain, deployment, treasury)
        self.requester, *self.owners = (self.root.as_identity(p) for p in people)
        for who in (self.requester, *self.owners):
            self.chain.fund(who.address, 10**20)
        self.root.token.transfer(self.requester.address, 50_000 * TOKEN_UNIT)
        self.requester.token.delegate()
        self.holder: dict[int, Ledger] = {}  # asset -> who holds it now
        self.policy: dict[int, ConsentPolicy] = {}
        self.revoked: set[int] = set()
        for i, (owner, price) in enumerate(zip(self.owners, PRICES, strict=True)):
            policy = ConsentPolicy(("diagnosis",), price_per_round=price)
            # the same ids in every example: hypothesis replays choices made among them
            asset = owner.assets.register(manifest(rows=100, title=f"asset {i}"), "m", policy, "p")
            self.holder[asset], self.policy[asset] = owner, policy
        self.jobs: list[JobModel] = []
        self.claimed: set[tuple[int, int]] = set()

    # ---- helpers ---------------------------------------------------------------------

    def _jobs_in(self, *statuses: JobStatus) -> list[JobModel]:
        return [j for j in self.jobs if j.status in statuses]

    def _by_address(self, address: str) -> Ledger:
        return next(x for x in (self.requester, *self.owners) if x.address == address)

    # ---- rules -----------------------------------------------------------------------

    @rule(pool=st.integers(1, 50), rounds=st.integers(1, 3))
    def propose(self, pool: int, rounds: int) -> None:
        job_id = self.requester.propose_job(
            JobTerms("diagnosis", rounds, pool * TOKEN_UNIT, "s", "m", max_assets=OWNERS)
        )
        self.jobs.append(JobModel(job_id, pool * TOKEN_UNIT, rounds))

    @precondition(lambda self: self._jobs_in(JobStatus.PROPOSED))
    @rule(data=st.data())
    def approve(self, data: st.DataObject) -> None:
        job = data.draw(st.sampled_from(self._jobs_in(JobStatus.PROPOSED)))
        pass_proposal(self.root, self.requester.gov.propose_job_approval(job.job_id),
                      [self.requester])  # fmt: skip
        job.status = JobStatus.APPROVED

    @precondition(lambda self: self._jobs_in(JobStatus.APPROVED))
    @rule(data=st.data())
    def enroll(self, data: st.DataObject) -> None:
        job = data.draw(st.sampled_from(self._jobs_in(JobStatus.APPROVED)))
        asset = data.draw(st.sampled_from(sorted(self.holder)))
        price = self.policy[asset].price_per_round
        fits = (sum(job.prices.values()) + price) * job.rounds <= job.pool
        allowed = asset not in job.enrolled and asset not in self.revoked and fits
        try:
            self.holder[asset].jobs.enroll(job.job_id, asset)
        except TransactionRefused:
            assert not allowed
            return
        assert allowed
        job.enrolled.append(asset)
        job.prices[asset] = price

    @precondition(lambda self: any(j.enrolled for j in self._jobs_in(JobStatus.APPROVED)))
    @rule(data=st.data())
    def start(self, data: st.DataObject) -> None:
        job = data.draw(st.sampled_from([j for j in self._jobs_in(JobStatus.APPROVED)
                                         if j.enrolled]))  # fmt: skip
        self.requester.jobs.start(job.job_id)
        job.status = JobStatus.RUNNING

    @precondition(lambda self: any(j.current_round < j.rounds
                                   for j in self._jobs_in(JobStatus.RUNNING)))  # fmt: skip
    @rule(data=st.data())
    def record(self, data: st.DataObject) -> None:
        job = data.draw(st.sampled_from([j for j in self._jobs_in(JobStatus.RUNNING)
                                         if j.current_round < j.rounds]))  # fmt: skip
        rnd = job.current_round + 1
        # everything is drawn before the chain is asked who aggregates (a random election):
        # hypothesis must draw the same way when it replays an example
        taking = data.draw(st.lists(st.sampled_from(job.enrolled), unique=True, min_size=1))
        receipts, values, stale = [], {}, set()
        for asset in taking:
            # who signs: the holder now, or sometimes someone else (a holder before, say)
            signer = data.draw(st.sampled_from([self.holder[asset], *self.owners]))
            if signer is not self.holder[asset]:
                stale.add(asset)
            examples = data.draw(st.integers(1, 100))
            receipts.append(Receipt(job.job_id, rnd, asset, examples, bytes(32)).signed_by(
                signer.identity, signer.chain_id, signer.jobs.address))
            values[asset] = data.draw(st.integers(-600, 1_500))
        try:
            elected = self._by_address(self.root.jobs.aggregator_of(job.job_id, rnd))
        except LedgerError:  # nobody live to aggregate: the round waits
            return
        sent = elected.jobs.record_round(job.job_id, rnd, "m", bytes(32), receipts, values=values)
        job.current_round = rnd
        for use in elected.jobs.data_used_in(sent):
            assert use.asset_id not in self.revoked
            assert use.owner == self.holder[use.asset_id].address
            job.used[use.asset_id] = job.used.get(use.asset_id, 0) + 1
            job.examples[use.asset_id] = job.examples.get(use.asset_id, 0) + use.num_examples
            if use.owner != elected.address:
                judged = job.values.setdefault(use.asset_id, {})
                judged.setdefault(elected.address, []).append(values[use.asset_id])
        skipped = {s.asset_id for s in elected.jobs.skipped_in(sent)}
        assert skipped == {a for a in taking if a in self.revoked} | stale

    @precondition(lambda self: set(self.holder) - self.revoked)
    @rule(data=st.data())
    def revoke(self, data: st.DataObject) -> None:
        asset = data.draw(st.sampled_from(sorted(set(self.holder) - self.revoked)))
        self.holder[asset].assets.revoke(asset)
        self.revoked.add(asset)

    @precondition(lambda self: self.revoked)
    @rule(data=st.data())
    def regrant(self, data: st.DataObject) -> None:
        asset = data.draw(st.sampled_from(sorted(self.revoked)))
        self.holder[asset].assets.set_policy(asset, self.policy[asset], "p2")
        self.revoked.discard(asset)

    @rule(data=st.data())
    def transfer(self, data: st.DataObject) -> None:
        asset = data.draw(st.sampled_from(sorted(self.holder)))
        to = data.draw(st.sampled_from(self.owners))
        if to is not self.holder[asset]:
            self.holder[asset].assets.transfer(asset, to.address)
            self.holder[asset] = to

    @precondition(lambda self: self._jobs_in(JobStatus.PROPOSED, JobStatus.APPROVED,
                                             JobStatus.RUNNING))  # fmt: skip
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        job = data.draw(st.sampled_from(self._jobs_in(JobStatus.PROPOSED, JobStatus.APPROVED,
                                                      JobStatus.RUNNING)))  # fmt: skip
        if job.status == JobStatus.RUNNING and job.current_round == job.rounds:
            with pytest.raises(TransactionRefused):
                self.requester.jobs.cancel(job.job_id)
            return
        self._cancel(job)

    def _cancel(self, job: JobModel) -> None:
        done = job.current_round if job.status == JobStatus.RUNNING else 0
        job.to_owners, _ = cancel_split(job.pool, sum(job.prices.values()), job.rounds, done)
        self.requester.jobs.cancel(job.job_id)
        job.status = JobStatus.CANCELLED

    @precondition(lambda self: any(j.current_round == j.rounds
                                   for j in self._jobs_in(JobStatus.RUNNING)))  # fmt: skip
    @rule(data=st.data())
    def complete(self, data: st.DataObject) -> None:
        job = data.draw(st.sampled_from([j for j in self._jobs_in(JobStatus.RUNNING)
                                         if j.current_round == j.rounds]))  # fmt: skip
        data.draw(st.sampled_from(self.owners)).jobs.complete(job.job_id)  # anyone may
        job.status, job.to_owners = JobStatus.COMPLETED, job.pool

    @precondition(lambda self: self._jobs_in(JobStatus.COMPLETED, JobStatus.CANCELLED))
    @rule(data=st.data())
    def claim(self, data: st.DataObject) -> None:
        job = data.draw(st.sampled_from(self._jobs_in(JobStatus.COMPLETED, JobStatus.CANCELLED)))
        asset = data.draw(st.sampled_from(sorted(self.holder)))
        self._claim(job, asset)

    def _claim(self, job: JobModel, asset: int) -> None:
        holder = self.holder[asset]
        owed = self._expected(job).get(asset, 0) if (job.job_id, asset) not in self.claimed else 0
        if owed == 0:
            with pytest.raises(TransactionRefused):
                holder.jobs.claim(job.job_id, asset)
            return
        assert holder.jobs.claim(job.job_id, asset) == owed
        self.claimed.add((job.job_id, asset))

    def _expected(self, job: JobModel) -> dict[int, int]:
        """What the reference says each asset of a closed job is owed."""
        uses = [AssetUse(a, job.prices[a], job.used.get(a, 0), job.examples.get(a, 0),
                         job.values.get(a, {})) for a in job.enrolled]  # fmt: skip
        return settle(job.to_owners, job.current_round, self.root.jobs.floor_share_bps(), uses)

    # ---- invariants ------------------------------------------------------------------

    @invariant()
    def tokens_are_conserved_and_escrow_holds_what_is_owed(self) -> None:
        if not hasattr(self, "root"):
            return
        token = self.root.token
        holders = [self.root.address, *(x.address for x in (self.requester, *self.owners))]
        escrow = token.balance_of(self.root.jobs.address)
        assert sum(token.balance_of(h) for h in holders) + escrow == token.total_supply()
        owed = 0
        for job in self.jobs:
            if job.status in (JobStatus.PROPOSED, JobStatus.APPROVED, JobStatus.RUNNING):
                owed += job.pool
                continue
            settled = self.root.jobs.settlement(job.job_id)
            assert settled.done  # small jobs settle when they close
            expected = self._expected(job)
            for asset in job.enrolled:
                still = 0 if (job.job_id, asset) in self.claimed else expected.get(asset, 0)
                assert self.root.jobs.owed(job.job_id, asset) == still
                owed += still
        assert escrow == owed

    def teardown(self) -> None:
        """Every job ends, everything owed is claimed: the escrow is empty."""
        if not hasattr(self, "root"):
            return
        for job in self._jobs_in(JobStatus.PROPOSED, JobStatus.APPROVED, JobStatus.RUNNING):
            if job.status == JobStatus.RUNNING and job.current_round == job.rounds:
                self.owners[0].jobs.complete(job.job_id)
                job.status, job.to_owners = JobStatus.COMPLETED, job.pool
            else:
                self._cancel(job)
        for job in self.jobs:
            for asset in sorted(self.holder):
                if (job.job_id, asset) not in self.claimed and self._expected(job).get(asset):
                    self._claim(job, asset)
        assert self.root.token.balance_of(self.root.jobs.address) == 0


LedgerMachine.TestCase.settings = settings(
    max_examples=12, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)  # fmt: skip
test_the_ledger_conserves_tokens_and_leaves_nothing_unclaimable = LedgerMachine.TestCase
