"""Secure rounds on an in-process node network (embedded chain, in-memory transport): the
aggregator holds only masked updates and the sum, dropped clients are recovered, too few
survivors abort the round on chain, and privacy loss is recorded and budgeted."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

from dain.data import ConsentPolicy, load_bundled, partition_stratified, stratified_split
from dain.devnet import Devnet
from dain.learning import ModelSpec, TrainConfig, accuracy, feature_statistics, init_params
from dain.learning.privacy import PrivacyLevel, PrivacySpec
from dain.ledger import TOKEN_UNIT, JobInfo, JobTerms
from dain.node import MASKED, JobSpec, Node, ProtocolError
from dain.node.spec import SecAggSettings
from dain.storage import UINT32, decode_tensors, encode_tensors

HOSPITALS = 5


@dataclass
class Network:
    net: Devnet
    job_id: int
    hospitals: dict[str, Node]
    assets: dict[str, int]
    spec: JobSpec
    test_x: np.ndarray
    test_y: np.ndarray


def _network(
    rounds: int = 3,
    privacy: PrivacySpec | None = None,
    max_epsilon: float | None = None,
    policy_epsilon: dict[str, float] | None = None,
) -> Network:
    net = Devnet(record=True)
    data = load_bundled("breast_cancer")
    train_rows, test_rows = stratified_split(data.y, 0.2, 3)
    train = data.subset(train_rows)
    requester = net.add_node("researcher", tokens=20_000)
    hospitals = {f"h{i}": net.add_node(f"h{i}", tokens=10_000) for i in range(HOSPITALS)}
    parts = partition_stratified(train.y, np.full(HOSPITALS, 1 / HOSPITALS), 3)
    assets = {}
    for (name, node), rows in zip(hospitals.items(), parts, strict=True):
        limit = (policy_epsilon or {}).get(name, max_epsilon)
        policy = ConsentPolicy(("diagnosis",), max_epsilon=limit, secure_aggregation=True)
        assets[name] = node.register_asset(train.subset(rows), name, policy)
    mean, scale = feature_statistics(train.x)
    spec = JobSpec(
        "secure", ModelSpec("logreg", 30, 2, (), mean, scale), TrainConfig(0.1, 1, 16), seed=5,
        privacy=privacy or PrivacySpec(), secagg=SecAggSettings(threshold=3),
    )  # fmt: skip
    job_id = requester.ledger.propose_job(
        JobTerms(
            "diagnosis", rounds, TOKEN_UNIT, requester.blobs.put(spec.to_bytes()),
            requester.blobs.put(encode_tensors(init_params(spec.model, 5))),
            secure_aggregation=True, round_duration=80, max_epsilon=max_epsilon,
        )
    )  # fmt: skip
    net.pass_proposal(requester.ledger.gov.propose_job_approval(job_id), list(net.nodes.values()))
    for name, node in hospitals.items():
        node.enroll(job_id, assets[name])
    requester.ledger.jobs.start(job_id)
    test = data.subset(test_rows)
    return Network(net, job_id, hospitals, assets, spec, test.x, test.y)


def _plain_mean(n: Network, job: JobInfo, round: int, names: list[str]) -> dict[str, np.ndarray]:
    """What the round's change must be: the example-weighted mean of the named assets'
    own updates, recomputed here (training is deterministic per job, round and asset)."""
    deltas, weights = [], []
    for name in names:
        node = n.hospitals[name]
        delta, examples = node.trainer.train_delta(job, round, node.assets[n.assets[name]])
        deltas.append(delta)
        weights.append(examples)
    total = sum(weights)
    return {
        k: sum(d[k] * w for d, w in zip(deltas, weights, strict=True)) / total for k in deltas[0]
    }


def _model(n: Network, cid: str) -> dict[str, np.ndarray]:
    peers = [node.address for node in n.net.nodes.values()]
    return decode_tensors(n.net.nodes["researcher"].fetch_blob(cid, peers))


def _aggregator_of(n: Network, round: int) -> str:
    address = n.net.root.jobs.aggregator_of(n.job_id, round)
    return next(name for name, node in n.hospitals.items() if node.address == address)


def test_a_secure_job_runs_and_the_aggregator_sees_only_masked_updates() -> None:
    n = _network(rounds=3)
    for round in (1, 2, 3):
        record = n.net.run_secure_round(n.job_id, round)
        assert record is not None and record.participants == HOSPITALS
    used = n.net.root.jobs.data_used(job_id=n.job_id)
    assert sorted((u.round, u.asset_id) for u in used) == sorted(
        (r, a) for r in (1, 2, 3) for a in n.assets.values()
    )
    model = _model(n, n.net.root.jobs.job(n.job_id).model_cid)
    assert accuracy(n.spec.model, model, n.test_x, n.test_y) >= 0.9
    # everything sent to an aggregator: masked integer vectors and small JSON messages
    aggregators = {n.hospitals[_aggregator_of(n, r)].endpoint for r in (1, 2, 3)}
    blobs = 0
    for carried in n.net.transport.carried:
        if carried.endpoint not in aggregators or carried.request.method != "POST":
            continue
        body = carried.request.body
        if carried.request.path == "/blobs":
            tensors = decode_tensors(body, dtype=None)
            if set(tensors) == {MASKED}:
                assert tensors[MASKED].dtype == UINT32
                blobs += 1
            else:  # a model hand-out from another round's aggregator: the public model
                assert (
                    json.loads(body[8 : 8 + int.from_bytes(body[:8], "little")])["__metadata__"][
                        "kind"
                    ]
                    == "model-delta"
                )
        else:
            assert carried.request.path.startswith("/secagg/")
            assert b'"dtype"' not in body and len(body) < 20_000
    assert blobs == 3 * HOSPITALS


def test_dropped_clients_are_recovered_and_the_model_is_the_survivors_mean() -> None:
    n = _network(rounds=1)
    agg = _aggregator_of(n, 1)
    shared_only, input_only = [name for name in n.hospitals if name != agg][:2]
    job = n.net.root.jobs.job(n.job_id)
    before = _model(n, job.model_cid)
    record = n.net.run_secure_round(
        n.job_id, 1, stop_after={shared_only: "shared", input_only: "input"}
    )
    assert record is not None
    summary = n.hospitals[agg].secure_aggregator.summaries[f"{n.job_id}/1"]
    assert summary == {
        "outcome": "summed", "shared": 5, "roster": 5, "survivors": 4, "answered_unmask": 3,
        "reason": "",
    }  # fmt: skip
    # the one that left before its masked update is not in the sum; the one that left after is
    survivors = [name for name in n.hospitals if name != shared_only]
    used = {u.asset_id for u in n.net.root.jobs.data_used(job_id=n.job_id)}
    assert used == {n.assets[name] for name in survivors}
    expected = _plain_mean(n, job, 1, survivors)
    after = _model(n, record.model_cid)
    for name in before:
        change = after[name] - before[name]
        # the only differences: fixed-point quantization and the float16 hand-out
        np.testing.assert_allclose(change, expected[name], atol=2e-3, rtol=2e-3)


def test_too_few_survivors_abort_the_round_on_chain_and_the_job_goes_on() -> None:
    n = _network(rounds=2)
    agg = _aggregator_of(n, 1)
    gone = [name for name in n.hospitals if name != agg][:3]  # 2 left: below threshold 3
    model_before = n.net.root.jobs.job(n.job_id).model_cid
    record = n.net.run_secure_round(n.job_id, 1, stop_after=dict.fromkeys(gone, "start"))
    assert record is not None and record.participants == 0
    assert n.net.root.jobs.rounds_aborted(n.job_id) == [1]
    assert n.net.root.jobs.job(n.job_id).model_cid == model_before
    assert n.net.root.jobs.data_used(job_id=n.job_id) == []
    summary = n.hospitals[agg].secure_aggregator.summaries[f"{n.job_id}/1"]
    assert summary["outcome"] == "aborted" and "needed" in summary["reason"]
    # the next round runs with everyone
    assert n.net.run_secure_round(n.job_id, 2).participants == HOSPITALS


def test_client_level_privacy_records_epsilon_and_nodes_stop_at_their_budget() -> None:
    privacy = PrivacySpec(PrivacyLevel.CLIENT, 4.0, 0.5, 1e-5, clients=3)
    # the requester asked for three rounds, but the owners' limit affords two
    limit = (privacy.epsilon(2) + privacy.epsilon(3)) / 2
    n = _network(rounds=3, privacy=privacy, max_epsilon=limit)
    records = [n.net.run_secure_round(n.job_id, r) for r in (1, 2, 3)]
    jobs = n.net.root.jobs
    assert [r.epsilon for r in records[:2]] == pytest.approx(
        [privacy.round_epsilon(1), privacy.round_epsilon(2)], abs=1e-6
    )
    assert jobs.job(n.job_id).epsilon_spent == pytest.approx(privacy.epsilon(2), abs=1e-5)
    # in round 3 every node kept its data back; nothing was used, the round aborted
    assert sorted({u.round for u in jobs.data_used(job_id=n.job_id)}) == [1, 2]
    assert records[2] is not None and records[2].participants == 0
    assert jobs.rounds_aborted(n.job_id) == [3]


def test_client_level_privacy_without_secure_aggregation_is_refused() -> None:
    spec = JobSpec(
        "x", ModelSpec("logreg", 30, 2), TrainConfig(),
        privacy=PrivacySpec(PrivacyLevel.CLIENT, 1.0, 1.0, clients=2),
    )  # fmt: skip
    with pytest.raises(ProtocolError, match="needs secure aggregation"):
        spec.check_terms(secure_aggregation=False)
    spec.check_terms(secure_aggregation=True)
    assert JobSpec.from_bytes(spec.to_bytes()) == spec


def test_client_level_privacy_aborts_when_too_few_noise_shares_survive() -> None:
    privacy = PrivacySpec(PrivacyLevel.CLIENT, 2.0, 0.5, 1e-5, clients=HOSPITALS)
    n = _network(rounds=1, privacy=privacy, max_epsilon=100.0)
    quitter = next(name for name in n.hospitals if name != _aggregator_of(n, 1))
    record = n.net.run_secure_round(n.job_id, 1, stop_after={quitter: "shared"})
    assert record is not None and record.participants == 0 and record.epsilon == 0
    assert n.net.root.jobs.rounds_aborted(n.job_id) == [1]
    summary = n.hospitals[_aggregator_of(n, 1)].secure_aggregator.summaries[f"{n.job_id}/1"]
    assert "noise shares" in summary["reason"]
