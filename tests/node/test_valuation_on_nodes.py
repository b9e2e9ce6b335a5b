"""The elected aggregator of a plain round values each other participant's update on rows of
its own and records the values with the round (issue 12, point 3, the node's side); anyone
can read them back from the chain. It never values its own asset, and a job whose updates it
cannot judge (a robust rule) records none."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dain.data import ConsentPolicy, load_bundled, partition_stratified
from dain.devnet import Devnet
from dain.learning import ModelSpec, TrainConfig, feature_statistics, init_params
from dain.ledger import TOKEN_UNIT, JobTerms, Receipt, round_epsilon_to_chain
from dain.node import JobSpec, PeerError
from dain.node.participant import TrainedUpdate
from dain.storage import digest_of, encode_tensors

ROUNDS = 8  # a clean aggregator in none of them: (1/4)^8, about 1 in 65,000


def _job(strategy: str) -> tuple[Devnet, int, dict[str, int], str]:
    """Four hospitals in one job: three clean, one whose labels are all flipped."""
    net = Devnet()
    data = load_bundled("breast_cancer")
    requester = net.add_node("researcher", tokens=20_000)
    hospitals = [net.add_node(f"h{i}", tokens=10_000) for i in range(4)]
    parts = partition_stratified(data.y, np.full(4, 1 / 4), 5)
    assets = {}
    for i, (hospital, rows) in enumerate(zip(hospitals, parts, strict=True)):
        held = data.subset(rows)
        if i == 3:
            held = replace(held, y=1 - held.y)
        assets[hospital.name] = hospital.register_asset(held, hospital.name,
                                                        ConsentPolicy(("diagnosis",)))  # fmt: skip
    mean, scale = feature_statistics(data.x)
    spec = JobSpec("valued", ModelSpec("logreg", 30, 2, feature_mean=mean, feature_scale=scale),
                   TrainConfig(0.1, 1, 16), seed=5, strategy=strategy)  # fmt: skip
    job_id = requester.ledger.propose_job(JobTerms(
        "diagnosis", ROUNDS, TOKEN_UNIT, requester.blobs.put(spec.to_bytes()),
        requester.blobs.put(encode_tensors(init_params(spec.model, 5)))))  # fmt: skip
    net.pass_proposal(requester.ledger.gov.propose_job_approval(job_id), list(net.nodes.values()))
    for hospital in hospitals:
        hospital.enroll(job_id, assets[hospital.name])
    requester.ledger.jobs.start(job_id)
    return net, job_id, assets, "h3"


def _run_round(net: Devnet, job_id: int, round_no: int) -> str:
    jobs = net.root.jobs
    aggregator = net.node_of(jobs.aggregator_of(job_id, round_no))
    for node in net.nodes.values():
        if node.name.startswith("h"):
            node.participant.train_round(job_id, round_no)
    assert aggregator.aggregator.finish_round(job_id, round_no) is not None
    return aggregator.name


def test_the_aggregator_values_every_update_but_its_own_and_flipped_labels_score_lowest() -> None:
    net, job_id, assets, flipped = _job("fedavg")
    jobs = net.root.jobs
    judged_by_clean = 0
    for round_no in range(1, ROUNDS + 1):
        aggregator = _run_round(net, job_id, round_no)
        values = jobs.values_recorded(job_id, round_no)
        others = {name: asset for name, asset in assets.items() if name != aggregator}
        assert set(values) == set(others.values())  # everyone's but the aggregator's own
        assert all(-(2**15) <= v < 2**15 for v in values.values())
        if aggregator == flipped:
            continue  # a judge holding flipped rows sees the world upside down: the median
        judged_by_clean += 1
        clean = [values[a] for name, a in others.items() if name != flipped]
        assert values[assets[flipped]] < min(clean), (round_no, aggregator, values)
    assert judged_by_clean >= 1


def test_a_robust_rule_records_no_values() -> None:
    net, job_id, assets, _ = _job("fedmedian")
    _run_round(net, job_id, 1)
    jobs = net.root.jobs
    assert jobs.values_recorded(job_id, 1) == {}
    assert {u.asset_id for u in jobs.data_used(job_id=job_id)} == set(assets.values())


@pytest.mark.parametrize("round_no", [1, 2])
def test_values_of_a_round_not_recorded_are_empty(round_no: int) -> None:
    net, job_id, _, _ = _job("fedavg")
    assert net.root.jobs.values_recorded(job_id, round_no) == {}


def test_an_update_claiming_more_examples_than_its_asset_holds_is_refused() -> None:
    """Finding 1 at the aggregator: a participant signs a receipt for 4e9 examples to take
    the whole FedAvg mean; the aggregator refuses the update before it weighs anything."""
    net, job_id, assets, _ = _job("fedavg")
    jobs = net.root.jobs
    job = jobs.job(job_id)
    aggregator = net.node_of(jobs.aggregator_of(job_id, 1))
    cheat = next(n for n in net.nodes.values() if n.name.startswith("h") and n is not aggregator)
    asset = cheat.ctx.assets[assets[cheat.name]]
    honest = cheat.participant.make_update(job, 1, asset)
    ledger = cheat.ledger
    inflated = 4_000_000_000
    receipt = Receipt(job_id, 1, asset.asset_id, inflated, digest_of(honest.update_cid),
                      epsilon=round_epsilon_to_chain(0.0)).signed_by(
        ledger.identity, ledger.chain_id, ledger.jobs.address)  # fmt: skip

    with pytest.raises(PeerError, match="registered with"):
        cheat.participant.deliver(aggregator.ledger.address, job_id, 1, TrainedUpdate(
            asset.asset_id, honest.update_cid, inflated, receipt.signature))  # fmt: skip
    assert aggregator.aggregator.received(job_id, 1) == 0
    # the honest update with the same blob still goes in, weighed by its true count
    cheat.participant.deliver(aggregator.ledger.address, job_id, 1, honest)
    assert aggregator.aggregator.received(job_id, 1) == 1
    assert honest.num_examples == len(asset.training.y)  # its held-out rows never train
