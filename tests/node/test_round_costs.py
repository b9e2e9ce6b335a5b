"""Where a round's protocol time goes, as a node's /status shows it (dain.costs): nodes on
an in-process network step their runners through a round; the aggregator's costs for it
count chain reads, the transaction that records it, decoding and verifying the updates
that reached its handlers; a participant's count its training, signing, encoding and
requests; no category is negative, and no node counts more time than passed. A Devnet's
lockstep round counts the same way, on the embedded chain and on anvil."""

from __future__ import annotations

import json
import threading
import time

import numpy as np

from dain.costs import CATEGORIES
from dain.data import ConsentPolicy, load_bundled, partition_stratified
from dain.devnet import Devnet
from dain.learning import ModelSpec, TrainConfig, feature_statistics, init_params
from dain.ledger import TOKEN_UNIT, ChainBackend, JobTerms
from dain.node import JobSpec, Node, NodeState, Request
from dain.storage import encode_tensors

HOSPITALS = 2


def _running_job(
    chain: ChainBackend | None = None, hospitals_: int = HOSPITALS
) -> tuple[Devnet, int]:
    net = Devnet(chain=chain)
    data = load_bundled("breast_cancer")
    requester = net.add_node("researcher", tokens=20_000)
    hospitals = [net.add_node(f"h{i}", tokens=10_000) for i in range(hospitals_)]
    mean, scale = feature_statistics(data.x)
    spec = JobSpec("costs", ModelSpec("logreg", 30, 2, feature_mean=mean, feature_scale=scale),
                   TrainConfig(0.1, 1, 16), seed=3)  # fmt: skip
    terms = JobTerms("diagnosis", 2, TOKEN_UNIT, requester.blobs.put(spec.to_bytes()),
                     requester.blobs.put(encode_tensors(init_params(spec.model, 3))))  # fmt: skip
    job_id = requester.ledger.propose_job(terms)
    net.pass_proposal(requester.ledger.gov.propose_job_approval(job_id), list(net.nodes.values()))
    parts = partition_stratified(data.y, np.full(hospitals_, 1 / hospitals_), 3)
    for hospital, rows in zip(hospitals, parts, strict=True):
        asset = hospital.register_asset(data.subset(rows), hospital.name,
                                        ConsentPolicy(("diagnosis",)))  # fmt: skip
        hospital.enroll(job_id, asset)
    requester.ledger.jobs.start(job_id)
    return net, job_id


def _status(node: Node) -> dict:
    answer = node.handle(Request("GET", "/status"))
    assert answer.status == 200
    return json.loads(answer.body)  # type: ignore[no-any-return]


def test_status_shows_where_a_recorded_rounds_time_went() -> None:
    net, job_id = _running_job()
    runners = {name: node.make_runner(NodeState(":memory:")) for name, node in net.nodes.items()}
    began = time.perf_counter()
    for _ in range(5):  # in lockstep: train and deliver, then the aggregator records
        for runner in runners.values():
            runner.step()
        if net.root.jobs.job(job_id).current_round >= 1:
            break
    wall = time.perf_counter() - began

    assert net.root.jobs.job(job_id).current_round == 1
    aggregator = net.node_of(net.root.jobs.round_record(job_id, 1).aggregator)
    participant = next(n for n in net.nodes.values() if n.assets and n is not aggregator)
    key = f"{job_id}/1"
    at_aggregator = _status(aggregator)["costs"][key]
    at_participant = _status(participant)["costs"][key]
    for costs in (at_aggregator, at_participant):
        for category in ("chain_read", "serialization", "signature", "http"):
            assert costs[category]["count"] > 0, category
    assert at_aggregator["chain_tx"]["count"] >= 1  # it recorded the round
    assert "chain_tx" not in at_participant  # a participant sends no transaction
    assert at_participant["training"]["count"] == 1
    for node in net.nodes.values():
        rounds = _status(node)["costs"]
        spent = [c for by_category in rounds.values() for c in by_category.items()]
        assert {name for name, _ in spent} <= set(CATEGORIES)
        assert all(c["seconds"] >= 0 for _, c in spent)
        # exclusive time, and each node worked in one thread at a time: never more than passed
        assert sum(c["seconds"] for _, c in spent) <= wall + 1e-3


def test_a_running_node_counts_its_waits_for_the_round_it_is_in() -> None:
    net, job_id = _running_job(hospitals_=1)
    hospital = net.nodes["h0"]  # the only participant: it aggregates every round itself
    runner = hospital.make_runner(NodeState(":memory:"), poll_seconds=0.02)
    # one thread alone uses the embedded chain: the requester answers in it, in memory
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while runner.status.rounds_aggregated < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        runner.stop()
        thread.join(60)

    assert runner.status.rounds_aggregated == 2
    costs = hospital.ctx.costs.snapshot()
    for round_no in (1, 2):
        spent = costs[f"{job_id}/{round_no}"]
        assert spent["training"]["count"] == 1 and spent["chain_tx"]["count"] >= 1
    assert costs[f"{job_id}/1"]["wait"]["count"] >= 1  # from its record to the next step


def test_a_devnet_round_counts_for_each_node_on_either_chain(chain: ChainBackend) -> None:
    net, job_id = _running_job(chain)
    record, took_part = net.run_round(job_id, 1)

    assert record is not None and len(took_part) == HOSPITALS
    aggregator = net.node_of(record.aggregator)
    costs = aggregator.ctx.costs.snapshot()[f"{job_id}/1"]
    assert costs["chain_tx"]["count"] >= 1 and costs["chain_read"]["count"] > 0
    for name in took_part:
        assert net.nodes[name].ctx.costs.snapshot()[f"{job_id}/1"]["training"]["count"] == 1
