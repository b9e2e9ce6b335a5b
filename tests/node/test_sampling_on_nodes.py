"""Per-round sampling on an in-process network (issue 16, item 2): every node computes the
same sample as the contract, only sampled assets train and send, the aggregator takes and
records their updates alone (DataUsed and rewards follow), an unsampled asset's update is
refused, and privacy is spent only in the rounds an asset was sampled for."""

from __future__ import annotations

import numpy as np
import pytest

from dain.data import ConsentPolicy, load_bundled, partition_stratified
from dain.devnet import Devnet
from dain.learning import (
    ModelSpec,
    PrivacyLevel,
    PrivacySpec,
    TrainConfig,
    feature_statistics,
    init_params,
)
from dain.ledger import TOKEN_UNIT, JobTerms, sample
from dain.node import JobSpec, PeerError
from dain.node.envelope import Envelope
from dain.storage import encode_tensors

HOSPITALS, ROUNDS, RATE = 6, 4, 5_000


def _sampling_job(privacy: PrivacySpec | None = None) -> tuple[Devnet, int, dict[str, int]]:
    """Six hospitals in a job that samples each asset into a round with chance 1/2."""
    net = Devnet(record=True)
    data = load_bundled("breast_cancer")
    requester = net.add_node("researcher", tokens=20_000)
    hospitals = [net.add_node(f"h{i}", tokens=10_000) for i in range(HOSPITALS)]
    parts = partition_stratified(data.y, np.full(HOSPITALS, 1 / HOSPITALS), 5)
    assets = {
        h.name: h.register_asset(data.subset(rows), h.name, ConsentPolicy(("diagnosis",)))
        for h, rows in zip(hospitals, parts, strict=True)
    }
    mean, scale = feature_statistics(data.x)
    spec = JobSpec("sampled", ModelSpec("logreg", 30, 2, feature_mean=mean, feature_scale=scale),
                   TrainConfig(0.1, 1, 16), seed=5,
                   privacy=privacy or PrivacySpec())  # fmt: skip
    job_id = requester.ledger.propose_job(JobTerms(
        "diagnosis", ROUNDS, 10 * TOKEN_UNIT, requester.blobs.put(spec.to_bytes()),
        requester.blobs.put(encode_tensors(init_params(spec.model, 5))),
        sample_bps=RATE))  # fmt: skip
    net.pass_proposal(requester.ledger.gov.propose_job_approval(job_id), list(net.nodes.values()))
    for hospital in hospitals:
        hospital.enroll(job_id, assets[hospital.name])
    requester.ledger.jobs.start(job_id)
    return net, job_id, assets


def _posted_updates(net: Devnet, since: int) -> list[int]:
    """The assets whose updates crossed the transport since exchange `since`."""
    return sorted(
        int(Envelope.from_bytes(c.request.body).body["asset_id"])
        for c in net.transport.carried[since:]
        if c.request.path == "/updates"
    )


def test_only_the_sample_trains_sends_and_is_recorded_and_paid() -> None:
    net, job_id, assets = _sampling_job()
    jobs = net.root.jobs
    enrolled = jobs.enrolled(job_id)
    drawn_by_round = {}
    for rnd in range(1, ROUNDS + 1):
        job = jobs.job(job_id)
        drawn = sample(job.seed, rnd, enrolled, job.sample_bps)
        drawn_by_round[rnd] = drawn
        # every node computes the same sample, and it is the contract's
        for node in net.nodes.values():
            assert node.ctx.chain.sample(job, rnd, enrolled) == drawn
        assert [a for a in enrolled if jobs.sampled(job_id, rnd, a)] == drawn
        since = len(net.transport.carried)

        record, took_part = net.run_round(job_id, rnd)

        # an unsampled node trains nothing and sends nothing
        assert sorted(a for used in took_part.values() for a in used) == sorted(drawn)
        assert _posted_updates(net, since) == sorted(drawn)
        assert record is not None and record.participants == len(drawn)
        used = sorted(u.asset_id for u in jobs.data_used(job_id=job_id) if u.round == rnd)
        assert used == sorted(drawn)
    assert 0 < sum(map(len, drawn_by_round.values())) < HOSPITALS * ROUNDS  # it did sample

    net.root.jobs.complete(job_id)
    for name, asset in assets.items():
        times = sum(asset in d for d in drawn_by_round.values())
        node = net.nodes[name]
        assert jobs.enrollment(job_id, asset).rounds_used == times
        if times:
            assert node.ledger.jobs.claim(job_id, asset) > 0
        else:
            assert jobs.owed(job_id, asset) == 0


def test_an_update_of_an_asset_outside_the_sample_is_refused() -> None:
    net, job_id, assets = _sampling_job()
    jobs = net.root.jobs
    job = jobs.job(job_id)
    ids = list(assets.values())
    sizes = {r: len(sample(job.seed, r, ids, RATE)) for r in range(1, ROUNDS + 1)}
    rnd = next(r for r, size in sizes.items() if 0 < size < HOSPITALS)
    for earlier in range(1, rnd):
        net.run_round(job_id, earlier)
    job = jobs.job(job_id)
    drawn = sample(job.seed, rnd, list(assets.values()), RATE)
    outsider = next(name for name, a in assets.items() if a not in drawn)
    node = net.nodes[outsider]
    local = node.ctx.assets[assets[outsider]]
    assert node.trainer.eligible_assets(job) == []  # it would not train of its own accord
    aggregator = jobs.aggregator_of(job_id, rnd)

    # a participant that ignores the sample and sends anyway
    update = node.participant.make_update(job, rnd, local)
    with pytest.raises(PeerError, match="not in round"):
        node.participant.deliver(aggregator, job_id, rnd, update)

    assert net.node_of(aggregator).aggregator.received(job_id, rnd) == 0


def test_privacy_is_spent_only_in_the_rounds_an_asset_was_sampled_for() -> None:
    privacy = PrivacySpec(PrivacyLevel.RECORD, 1.2, 1.0, 1e-5, sample_rate=0.5, steps=2)
    net, job_id, assets = _sampling_job(privacy)
    jobs = net.root.jobs
    drawn_by_round = {}
    for rnd in range(1, ROUNDS + 1):
        job = jobs.job(job_id)
        drawn_by_round[rnd] = sample(job.seed, rnd, list(assets.values()), RATE)
        net.run_round(job_id, rnd)

    for name, asset in assets.items():
        times = sum(asset in d for d in drawn_by_round.values())
        # the node's budget check composes these rounds alone (budget_allows)
        assert net.nodes[name].ctx.state.releases(job_id, asset) == times
