"""Per-round sampling on chain (issue 16, item 2), on both backends: the contract's sample is
the one `dain.ledger.in_sample` computes, a count becomes a rate when the job starts, a
record naming an asset outside the round's sample is refused, DataUsed and rewards follow
the sample, and only a round whose sample is empty may abort."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dain.identity import Identity
from dain.incentives.settlement import AssetUse, settle
from dain.ledger import (
    TOKEN_UNIT,
    EmbeddedChain,
    JobStatus,
    Ledger,
    NetworkParams,
    TransactionRefused,
    count_rate,
    deploy,
    in_sample,
    sample,
)
from tests.conftest import FOUNDERS, ChainNet
from tests.ledger.helpers import aggregator, receipt

ZERO_HASH = b"\0" * 32


def _sampling_job(
    chain_net: ChainNet, owners: int, rounds: int, **terms: int
) -> tuple[Ledger, list[Ledger], int, list[int]]:
    requester = chain_net.member(5_000)
    members = [chain_net.member() for _ in range(owners)]
    job_id, assets = chain_net.running_job(requester, members, rounds=rounds, **terms)
    return requester, members, job_id, assets


def _owner(members: list[Ledger], assets: list[int], asset: int) -> Ledger:
    return members[assets.index(asset)]


def _record_sample(
    members: list[Ledger], assets: list[int], job_id: int, rnd: int
) -> tuple[list[int], object]:
    """The round recorded by its aggregator with a receipt from every sampled asset."""
    job = members[0].jobs.job(job_id)
    drawn = sample(job.seed, rnd, assets, job.sample_bps)
    agg = aggregator(members, job_id, rnd)
    receipts = [receipt(_owner(members, assets, a), job_id, rnd, a) for a in drawn]
    if not drawn:
        return drawn, agg.jobs.abort_round(job_id, rnd, 0)
    return drawn, agg.jobs.record_round(job_id, rnd, f"m{rnd}", ZERO_HASH, receipts)


def test_every_asset_and_round_the_contract_and_python_agree(chain_net: ChainNet) -> None:
    _, members, job_id, assets = _sampling_job(chain_net, 6, 3, sample_bps=5_000)
    job = members[0].jobs.job(job_id)

    for rnd in range(1, 21):
        on_chain = [a for a in assets if members[0].jobs.sampled(job_id, rnd, a)]
        assert on_chain == sample(job.seed, rnd, assets, job.sample_bps)

    assert (job.sample_bps, job.sampling) == (5_000, True)


def test_a_count_becomes_a_rate_over_the_assets_enrolled_at_start(chain_net: ChainNet) -> None:
    requester, members, job_id, assets = _sampling_job(chain_net, 3, 2, sample_count=2)
    everyone = chain_net.running_job(requester, members[:2], rounds=2, sample_count=2)[0]

    job = members[0].jobs.job(job_id)
    assert (job.sample_count, job.sample_bps) == (2, count_rate(2, 3)) == (2, 6_667)
    # a count at least the assets enrolled samples every one of them
    assert members[0].jobs.job(everyone).sample_bps == 0
    assert all(members[0].jobs.sampled(everyone, 1, a) for a in assets)


@pytest.mark.parametrize(
    ("terms", "reason"),
    [
        ({"sample_bps": 10_001}, "InvalidSampling"),
        ({"sample_bps": 5_000, "sample_count": 2}, "InvalidSampling"),
        ({"sample_count": 5, "max_assets": 4}, "InvalidSampling"),
        ({"sample_bps": 5_000, "secure_aggregation": True}, "SamplingWithSecureAggregation"),
        ({"sample_count": 3, "secure_aggregation": True}, "SamplingWithSecureAggregation"),
    ],
)
def test_nonsense_sampling_is_refused_at_proposal(
    chain_net: ChainNet, terms: dict[str, int], reason: str
) -> None:
    requester = chain_net.member(5_000)

    with pytest.raises(TransactionRefused) as refused:
        chain_net.propose(requester, **terms)

    assert refused.value.reason == reason
    assert requester.jobs.count() == 0


def test_a_record_naming_an_asset_outside_the_sample_is_refused(chain_net: ChainNet) -> None:
    # the attack: the elected aggregator slips in (and would pay) an update of an asset the
    # round did not sample, say its own or a friend's
    _, members, job_id, assets = _sampling_job(chain_net, 6, 6, sample_bps=5_000)
    job = members[0].jobs.job(job_id)
    rnd = next(r for r in range(1, 6) if 0 < len(sample(job.seed, r, assets, 5_000)) < 6)
    # rounds move only forward: record the rounds before it honestly
    for earlier in range(1, rnd):
        _record_sample(members, assets, job_id, earlier)
    drawn = sample(job.seed, rnd, assets, 5_000)
    outsider = next(a for a in assets if a not in drawn)
    agg = aggregator(members, job_id, rnd)
    receipts = [receipt(_owner(members, assets, a), job_id, rnd, a) for a in [*drawn, outsider]]

    with pytest.raises(TransactionRefused) as refused:
        agg.jobs.record_round(job_id, rnd, "m", ZERO_HASH, receipts)

    assert refused.value.reason == "NotSampled"
    assert tuple(refused.value.args_decoded) == (job_id, rnd, outsider)
    assert agg.jobs.job(job_id).current_round == rnd - 1
    assert {u.asset_id for u in agg.jobs.data_used(job_id=job_id) if u.round == rnd} == set()
    assert agg.jobs.enrollment(job_id, outsider).rounds_used == sum(
        in_sample(job.seed, r, outsider, 5_000) for r in range(1, rnd)
    )


def test_data_used_and_rewards_follow_the_sample(chain_net: ChainNet) -> None:
    requester, members, job_id, assets = _sampling_job(chain_net, 5, 5, sample_bps=4_000)
    drawn_by_round = {}
    for rnd in range(1, 6):
        drawn_by_round[rnd], _ = _record_sample(members, assets, job_id, rnd)
    requester.jobs.complete(job_id)

    jobs = requester.jobs
    used = {(u.round, u.asset_id) for u in jobs.data_used(job_id=job_id)}
    assert used == {(r, a) for r, drawn in drawn_by_round.items() for a in drawn}
    pool, paid = 100 * TOKEN_UNIT, 0
    for asset in assets:
        times = sum(asset in drawn for drawn in drawn_by_round.values())
        assert jobs.enrollment(job_id, asset).rounds_used == times
        owner = _owner(members, assets, asset)
        # sitting out an unsampled round is no missed round
        assert jobs.reputation(owner.address).rounds_missed == 0
        if times == 0:
            assert jobs.owed(job_id, asset) == 0
            continue
        paid += owner.jobs.claim(job_id, asset)
    # each asset took part in every round it was sampled for, so each has the floor share
    # too; the whole pool went to the sampled ones
    contributors = sum(1 for a in assets if any(a in d for d in drawn_by_round.values()))
    settled = jobs.settlement(job_id)
    assert (settled.contributors, settled.full) == (contributors, contributors)
    assert paid == pool
    # the reference computation agrees, counting the floor over the rounds sampled
    uses = [
        AssetUse(a, rounds_used=jobs.enrollment(job_id, a).rounds_used,
                 examples=jobs.enrollment(job_id, a).examples,
                 rounds_sampled=sum(a in d for d in drawn_by_round.values()))
        for a in assets
    ]  # fmt: skip
    expected = settle(pool, 5, settled.floor_bps, uses)
    assert sum(expected.values()) == pool
    assert {a: expected.get(a, 0) for a in assets} == {
        a: sum(p.amount for p in jobs.rewards_paid(job_id, asset_id=a)) for a in assets
    }
    assert jobs.job(job_id).status == JobStatus.COMPLETED


def test_only_a_round_whose_sample_is_empty_may_abort(chain_net: ChainNet) -> None:
    requester, members, job_id, assets = _sampling_job(chain_net, 2, 3, sample_bps=1)
    plain = chain_net.running_job(requester, members, rounds=2)[0]
    job = members[0].jobs.job(job_id)
    # at 0.01% each, a round's sample is empty but 1 time in 5,000: record those honestly
    rnd = 1
    while sample(job.seed, rnd, assets, 1):
        _record_sample(members, assets, job_id, rnd)
        rnd += 1
    agg = aggregator(members, job_id, rnd)

    agg.jobs.abort_round(job_id, rnd, 0)

    record = agg.jobs.round_record(job_id, rnd)
    assert (record.participants, agg.jobs.rounds_aborted(job_id)) == (0, [rnd])
    assert agg.jobs.job(job_id).current_round == rnd
    with pytest.raises(TransactionRefused) as refused:
        aggregator(members, plain, 1).jobs.abort_round(plain, 1, 0)
    assert refused.value.reason == "NotSecureAggregation"


def test_a_round_with_a_sample_cannot_abort(chain_net: ChainNet) -> None:
    _, members, job_id, assets = _sampling_job(chain_net, 3, 2, sample_bps=9_999)
    job = members[0].jobs.job(job_id)
    assert sample(job.seed, 1, assets, 9_999)  # empty with chance 1e-12
    agg = aggregator(members, job_id, 1)

    with pytest.raises(TransactionRefused) as refused:
        agg.jobs.abort_round(job_id, 1, 0)

    assert refused.value.reason == "SampleNotEmpty"


@pytest.fixture(scope="module")
def seeded_jobs() -> tuple[Ledger, list[tuple[int, bytes, int]]]:
    """Jobs of several rates, each with its own seed, on one embedded chain."""
    chain = EmbeddedChain()
    params = NetworkParams(voting_delay=1, voting_period=5, quorum_percent=4,
                           token_supply=100_000 * TOKEN_UNIT)  # fmt: skip
    treasury = Identity.create()
    chain.fund(treasury.address, 10**20)
    founders = [Identity.create() for _ in range(FOUNDERS)]
    deployment = deploy(chain.web3, treasury, params, founders=[f.address for f in founders],
                        gas_limit=chain.gas_limit)  # fmt: skip
    net = ChainNet(chain, Ledger(chain, deployment, treasury), params, founders=founders)
    requester, owner = net.member(5_000), net.member()
    jobs = []
    for rate in (1, 2_500, 5_000, 9_999):
        job_id = net.running_job(requester, [owner], rounds=1, sample_bps=rate)[0]
        jobs.append((job_id, owner.jobs.job(job_id).seed, rate))
    return owner, jobs


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    which=st.integers(0, 3),
    rnd=st.integers(0, 2**32 - 1),
    asset=st.one_of(st.integers(0, 2**256 - 1), st.integers(0, 1_000)),
)
def test_python_and_solidity_draw_the_same_sample(
    seeded_jobs: tuple[Ledger, list[tuple[int, bytes, int]]], which: int, rnd: int, asset: int
) -> None:
    ledger, jobs = seeded_jobs
    job_id, seed, rate = jobs[which]

    assert ledger.jobs.sampled(job_id, rnd, asset) == in_sample(seed, rnd, asset, rate)
