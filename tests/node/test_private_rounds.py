"""Record-level privacy on an in-process node network: the aggregator of a plain job sees
each participant's update, and with everything public (spec, seed, round, asset id, global
model) and even the participant's data it still cannot reproduce that update, because
DP-SGD's sampling and noise come from a source only the participant's process holds."""

from __future__ import annotations

import hashlib
import math

import numpy as np

from dain.data import ConsentPolicy, load_bundled, partition_stratified
from dain.devnet import Devnet
from dain.learning import ModelSpec, TrainConfig, feature_statistics, init_params, param_shapes
from dain.learning.privacy import PrivacyLevel, PrivacySpec
from dain.ledger import TOKEN_UNIT, JobTerms
from dain.node import JobSpec
from dain.storage import decode_half, encode_half, encode_tensors

HOSPITALS = 3
RECORD = PrivacySpec(PrivacyLevel.RECORD, 1.0, 0.5, 1e-5, sample_rate=0.1, steps=6)
TRAIN = TrainConfig(0.1, 1, 16)


def test_the_aggregator_of_a_plain_job_cannot_reproduce_a_dp_sgd_update() -> None:
    net = Devnet(record=True)
    data = load_bundled("breast_cancer")
    requester = net.add_node("researcher", tokens=20_000)
    hospitals = [net.add_node(f"h{i}", tokens=10_000) for i in range(HOSPITALS)]
    parts = partition_stratified(data.y, np.full(HOSPITALS, 1 / HOSPITALS), 2)
    assets = {}
    for node, rows in zip(hospitals, parts, strict=True):
        assets[node.name] = node.register_asset(data.subset(rows), node.name,
                                                ConsentPolicy(("diagnosis",)))  # fmt: skip
    mean, scale = feature_statistics(data.x)
    spec = JobSpec("dp", ModelSpec("logreg", 30, 2, (), mean, scale), TRAIN, seed=9,
                   privacy=RECORD)  # fmt: skip
    job_id = requester.ledger.propose_job(JobTerms(
        "diagnosis", 1, TOKEN_UNIT, requester.blobs.put(spec.to_bytes()),
        requester.blobs.put(encode_tensors(init_params(spec.model, spec.seed))),
    ))  # fmt: skip
    net.pass_proposal(requester.ledger.gov.propose_job_approval(job_id), list(net.nodes.values()))
    for node in hospitals:
        node.enroll(job_id, assets[node.name])
    requester.ledger.jobs.start(job_id)
    job = net.root.jobs.job(job_id)  # as every node saw it when the round began

    record, _ = net.run_round(job_id, 1)

    assert record is not None and record.participants == HOSPITALS
    assert record.epsilon > 0
    aggregator = net.node_of(record.aggregator)
    victim = next(node for node in hospitals if node is not aggregator)
    asset = victim.assets[assets[victim.name]]
    # what the aggregator holds: the victim's update, found by the hash its receipt commits to
    used = net.root.jobs.data_used(job_id=job_id, asset_id=asset.asset_id)[0]
    shapes = param_shapes(spec.model)
    received = next(
        decode_half(c.request.body, shapes) for c in net.transport.carried
        if c.endpoint == aggregator.endpoint and c.request.path == "/blobs"
        and hashlib.sha256(c.request.body).digest() == used.update_hash
    )  # fmt: skip

    # the attack: run the participant's own training code on its data, with the job's public
    # seed, round and asset id, from the same global model; updates travel as float16
    replayed, _ = aggregator.trainer.train_delta(job, 1, asset)
    replayed = decode_half(encode_half(replayed), shapes)

    difference = np.concatenate([(received[k] - replayed[k]).reshape(-1) for k in shapes])
    # two DP-SGD runs differ at least by their noise: lr sigma C sqrt(steps) / expected batch
    # per coordinate, sqrt(2) times for two independent runs
    expected_batch = max(1, round(RECORD.sample_rate * len(asset.training.y)))
    per_coordinate = TRAIN.learning_rate * RECORD.noise_multiplier * RECORD.clip_norm
    per_coordinate *= math.sqrt(RECORD.steps) / expected_batch
    assert np.linalg.norm(difference) > 0.5 * math.sqrt(2 * difference.size) * per_coordinate

    # the participant itself, asked again for the round (a retry, a new aggregator), hands
    # out the same update: a second, differently noised one would spend privacy uncounted
    again, _ = victim.trainer.train_delta(job, 1, asset)
    again = decode_half(encode_half(again), shapes)
    assert all(np.array_equal(again[k], received[k]) for k in shapes)
