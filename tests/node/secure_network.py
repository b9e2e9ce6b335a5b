"""An in-process network running one secure-aggregation job: five hospitals on an embedded
chain, each holding one asset of the breast-cancer data, and a researcher who proposed it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from dain.data import ConsentPolicy, load_bundled, partition_stratified, stratified_split
from dain.devnet import Devnet
from dain.learning import ModelSpec, TrainConfig, feature_statistics, init_params
from dain.learning.privacy import PrivacySpec
from dain.ledger import TOKEN_UNIT, JobInfo, JobTerms
from dain.node import JobSpec, Node
from dain.node.spec import SecAggSettings
from dain.storage import decode_tensors, encode_tensors

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


def secure_network(
    rounds: int = 3,
    privacy: PrivacySpec | None = None,
    max_epsilon: float | None = None,
    policy_epsilon: dict[str, float] | None = None,
    secagg: SecAggSettings | None = None,
    model: ModelSpec | None = None,
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
        "secure", dataclasses.replace(model or ModelSpec("logreg", 30, 2), feature_mean=mean,
                                      feature_scale=scale),
        TrainConfig(0.1, 1, 16), seed=5,
        privacy=privacy or PrivacySpec(), secagg=secagg or SecAggSettings(threshold=3),
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


def plain_mean(n: Network, job: JobInfo, round: int, names: list[str]) -> dict[str, np.ndarray]:
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


def model_of(n: Network, cid: str) -> dict[str, np.ndarray]:
    peers = [node.address for node in n.net.nodes.values()]
    return decode_tensors(n.net.nodes["researcher"].fetch_blob(cid, peers, n.job_id))


def aggregator_of(n: Network, round: int) -> str:
    """The name of the hospital elected to aggregate `round` now."""
    address = n.net.root.jobs.aggregator_of(n.job_id, round)
    return next(name for name, node in n.hospitals.items() if node.address == address)
