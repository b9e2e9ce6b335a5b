"""Strategies on the node network: a stateful server optimizer keeps its state across
rounds even as the aggregator changes, a robust rule runs on individual updates, and
FedProx reaches the clients' training."""

from __future__ import annotations

import numpy as np
import pytest

from dain.data import ConsentPolicy, load_bundled, partition_stratified
from dain.devnet import Devnet
from dain.learning import (
    AggregationError,
    ClientUpdate,
    ModelSpec,
    TrainConfig,
    feature_statistics,
    init_params,
    make_strategy,
    subtract,
    train_local,
)
from dain.ledger import TOKEN_UNIT, JobTerms
from dain.node import JobSpec
from dain.node.training import client_seed
from dain.storage import decode_tensors, encode_tensors, read_metadata


def _job(strategy: str, rounds: int = 3, **options: float) -> tuple[Devnet, int, dict]:
    net = Devnet()
    data = load_bundled("breast_cancer")
    requester = net.add_node("researcher", tokens=20_000)
    hospitals = [net.add_node(f"h{i}", tokens=10_000) for i in range(4)]
    parts = partition_stratified(data.y, np.full(4, 0.25), 2)
    assets = {}
    for node, rows in zip(hospitals, parts, strict=True):
        assets[node.name] = node.register_asset(data.subset(rows), node.name,
                                                ConsentPolicy(("diagnosis",)))  # fmt: skip
    mean, scale = feature_statistics(data.x)
    model = ModelSpec("logreg", 30, 2, (), mean, scale)
    spec = JobSpec("s", model, TrainConfig(0.05, 1, 32), strategy=strategy,
                   seed=4, strategy_options=dict(options))  # fmt: skip
    job_id = requester.ledger.propose_job(JobTerms(
        "diagnosis", rounds, TOKEN_UNIT, requester.blobs.put(spec.to_bytes()),
        requester.blobs.put(encode_tensors(init_params(spec.model, 4))),
    ))  # fmt: skip
    net.pass_proposal(requester.ledger.gov.propose_job_approval(job_id), list(net.nodes.values()))
    for node in hospitals:
        node.enroll(job_id, assets[node.name])
    requester.ledger.jobs.start(job_id)
    return net, job_id, assets


def _blob(net: Devnet, cid: str, job_id: int) -> bytes:
    peers = [n.address for n in net.nodes.values()]
    return net.nodes["researcher"].fetch_blob(cid, peers, job_id)


def test_server_adam_state_travels_with_the_model_between_aggregators() -> None:
    net, job_id, _ = _job("fedadam", rounds=3, server_lr=0.05)
    aggregators, states = [], []
    for round_no in (1, 2, 3):
        record, took_part = net.run_round(job_id, round_no)
        assert record is not None and len(took_part) == 4
        aggregators.append(record.aggregator)
        model = _blob(net, record.model_cid, job_id)
        state_cid = read_metadata(model)["strategy_state"]
        states.append(decode_tensors(_blob(net, state_cid, job_id)))
    assert set(states[0]) == {"m.0.weight", "m.0.bias", "v.0.weight", "v.0.bias"}
    # the second moment only grows under Adam with these updates' scale: state carried on
    assert all(float(s["v.0.weight"].sum()) > 0 for s in states)
    assert not np.allclose(states[0]["v.0.weight"], states[2]["v.0.weight"])
    # every participant rebuilds the last model, metadata included, from its hand-out alone
    final = net.root.jobs.job(job_id).model_cid
    shapes = {"0.weight": (2, 30), "0.bias": (2,)}
    for node in (n for name, n in net.nodes.items() if name != "researcher"):
        if not node.blobs.has(final):  # (the aggregator made it)
            assert node.models.rebuild(final, shapes)
        assert node.blobs.has(final)


def test_a_robust_rule_and_fedprox_run_on_the_node_network() -> None:
    for strategy, options in (("fedmedian", {}), ("fedprox", {"proximal_mu": 0.5})):
        net, job_id, _ = _job(strategy, rounds=2, **options)
        for round_no in (1, 2):
            record, took_part = net.run_round(job_id, round_no)
            assert record is not None and len(took_part) == 4


def test_fedprox_pulls_client_updates_towards_the_global_model() -> None:
    net, job_id, assets = _job("fedprox", rounds=1, proximal_mu=5.0)
    node = net.nodes["h0"]
    job = net.root.jobs.job(job_id)
    asset = node.assets[assets["h0"]]
    delta, _ = node.trainer.train_delta(job, 1, asset)
    spec = node.models.spec(job)
    start = node.models.global_model(job, spec)
    seed = client_seed(spec.seed, 1, asset.asset_id)
    x, y = asset.training.x, asset.training.y  # the node trains on these only
    pulled = subtract(train_local(spec.model, start, x, y, spec.train, seed,
                                  proximal_mu=5.0).params, start)  # fmt: skip
    free = subtract(train_local(spec.model, start, x, y, spec.train, seed).params, start)
    for name in delta:  # the node trained with the strategy's proximal term
        np.testing.assert_allclose(delta[name], pulled[name], rtol=1e-5, atol=1e-7)

    def size(d: dict) -> float:
        return float(np.sqrt(sum(np.sum(v.astype(np.float64) ** 2) for v in d.values())))

    assert size(pulled) < size(free)


@pytest.mark.parametrize("name", ["krum", "bulyan"])
def test_robust_rules_need_enough_clients_and_say_so(name: str) -> None:
    strategy = make_strategy(name, byzantine=2)
    updates = [ClientUpdate({"w": np.ones(3, np.float32)}, 1) for _ in range(4)]
    with pytest.raises(AggregationError, match="needs"):
        strategy.combine(updates)
