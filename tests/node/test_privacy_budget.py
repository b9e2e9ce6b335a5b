"""A node counts the privacy it spent from the updates it made (its state database), not
from the rounds recorded on chain, which the aggregator controls (issue 12, finding 6): an
aggregator that leaves a participant's receipt out of every record does not give that
participant its privacy back, so the participant stops at its policy's limit anyway."""

from __future__ import annotations

import numpy as np

from dain.data import ConsentPolicy, load_bundled, partition_stratified
from dain.devnet import Devnet
from dain.learning import ModelSpec, PrivacyLevel, PrivacySpec, TrainConfig, init_params
from dain.ledger import TOKEN_UNIT, JobTerms
from dain.node import JobSpec, NodeState
from dain.storage import encode_tensors

RECORD = PrivacySpec(PrivacyLevel.RECORD, 1.0, 0.5, 1e-5, sample_rate=0.2, steps=2)


def test_an_aggregator_leaving_receipts_out_does_not_give_privacy_back() -> None:
    net = Devnet()
    data = load_bundled("breast_cancer")
    requester = net.add_node("researcher", tokens=20_000)
    hospitals = [net.add_node(f"h{i}", tokens=10_000) for i in range(3)]
    parts = partition_stratified(data.y, np.full(3, 1 / 3), 2)
    limit = (RECORD.epsilon(2) + RECORD.epsilon(3)) / 2  # affords two rounds, not three
    assets = {h.name: h.register_asset(data.subset(p), h.name,
                                       ConsentPolicy(("diagnosis",), max_epsilon=limit))
              for h, p in zip(hospitals, parts, strict=True)}  # fmt: skip
    spec = JobSpec("budget", ModelSpec("logreg", 30, 2), TrainConfig(0.1, 1, 16), seed=3,
                   privacy=RECORD)  # fmt: skip
    job_id = requester.ledger.propose_job(JobTerms(
        "diagnosis", 4, TOKEN_UNIT, requester.blobs.put(spec.to_bytes()),
        requester.blobs.put(encode_tensors(init_params(spec.model, 3))), max_epsilon=limit))
    net.pass_proposal(requester.ledger.gov.propose_job_approval(job_id), list(net.nodes.values()))
    for hospital in hospitals:
        hospital.enroll(job_id, assets[hospital.name])
    requester.ledger.jobs.start(job_id)
    jobs = net.root.jobs

    victim = None
    for round_no in (1, 2):
        job = jobs.job(job_id)
        aggregator = net.node_of(jobs.aggregator_of(job_id, round_no))
        victim = victim or next(h for h in hospitals if h is not aggregator)
        for hospital in hospitals:
            hospital.participant.train_round(job_id, round_no)
        # the attack: the aggregator drops the victim's update before recording the round
        # (it reaches into its own memory: what any aggregator can do with what it holds)
        aggregator.aggregator._pending[(job_id, round_no)].pop(assets[victim.name])
        record = aggregator.aggregator.finish_round(job_id, round_no)
        assert record is not None
        assert assets[victim.name] not in {u.asset_id for u in jobs.data_used(job_id=job_id)
                                           if u.round == round_no}  # fmt: skip
    assert jobs.enrollment(job_id, assets[victim.name]).rounds_used == 0  # the chain's count

    job = jobs.job(job_id)
    assert victim.ctx.state.releases(job_id, assets[victim.name]) == 2
    assert victim.trainer.eligible_assets(job) == []  # two releases spent its budget
    others = [h for h in hospitals if h is not victim]
    assert all(h.trainer.eligible_assets(job) == [] for h in others)  # so did theirs


def test_what_a_node_spent_survives_a_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    state = NodeState(tmp_path / "state.db")
    state.record_release(7, 1, 2**255)
    state.record_release(7, 1, 2**255)
    state.record_release(7, 2, 2**255)
    state.close()

    reopened = NodeState(tmp_path / "state.db")

    assert reopened.releases(7, 2**255) == 2
    assert reopened.releases(7, 2**255, besides=2) == 1  # the round being judged
    assert reopened.releases(8, 2**255) == 0
