"""Privacy and security with a CNN: the imaging template's job under secure aggregation
(the aggregator unmasks only the sum, which equals the plain mean of the hospitals' own
updates), with record-level DP-SGD (Opacus clips each image's gradient in every conv and
linear layer) and with client-level DP under secure aggregation, each recording its
epsilon on chain and still learning."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from dain.learning import PrivacyLevel, PrivacySpec, calibrate, evaluate
from dain.storage import decode_tensors
from tests.node.use_case_network import use_case_network

pytestmark = pytest.mark.slow
HOSPITALS = 5  # secure aggregation's threshold floor is 3 of each neighbourhood


def test_a_secure_cnn_job_unmasks_exactly_the_mean_of_the_hospitals_updates(
    tmp_path: Path,
) -> None:
    run = use_case_network("imaging", tmp_path, owners=HOSPITALS)
    spec = run.plan.spec
    job_id, model = run.train(spec, 2, secure=True)
    jobs = run.net.root.jobs
    job = jobs.job(job_id)
    assert jobs.round_record(job_id, 2).participants == HOSPITALS
    # round 2's model is round 1's plus the plain example-weighted mean of every hospital's
    # own update, which the aggregator only ever saw masked
    peers = [n.address for n in run.net.nodes.values()]
    first_cid = jobs.round_record(job_id, 1).model_cid
    first = decode_tensors(run.net.nodes["requester"].fetch_blob(first_cid, peers, job_id))
    job = dataclasses.replace(job, model_cid=first_cid, current_round=1)  # as round 2 began
    deltas, weights = [], []
    for name, asset_id in run.owners:
        node = run.net.nodes[name]
        delta, examples = node.trainer.train_delta(job, 2, node.assets[asset_id])
        deltas.append(delta)
        weights.append(examples)
    for tensor, value in model.items():
        mean = sum(d[tensor] * w for d, w in zip(deltas, weights, strict=True)) / sum(weights)
        np.testing.assert_allclose(value, first[tensor] + mean, atol=2e-3)
    accuracy = evaluate(spec.model, model, run.test.x, run.test.y).accuracy
    assert accuracy is not None and accuracy > 0.85


def test_record_level_dp_sgd_trains_the_cnn_and_spends_its_epsilon(tmp_path: Path) -> None:
    run = use_case_network("imaging", tmp_path, owners=3)
    rounds, target = 3, 8.0
    # DP-SGD's usual regime: small Poisson batches, many steps, a large learning rate
    record = PrivacySpec(PrivacyLevel.RECORD, 1.0, 1.0, 1e-5, sample_rate=0.1, steps=20)
    privacy = calibrate(record, target, rounds)
    train = dataclasses.replace(run.plan.spec.train, learning_rate=1.0, momentum=0.0)
    spec = dataclasses.replace(run.plan.spec, privacy=privacy, train=train)
    job_id, model = run.train(spec, rounds, max_epsilon=target)
    spent = run.net.root.jobs.job(job_id).epsilon_spent
    assert 0 < spent <= target + 1e-6
    accuracy = evaluate(spec.model, model, run.test.x, run.test.y).accuracy
    assert accuracy is not None and accuracy > 0.7  # far above chance (0.1) despite the noise


def test_client_level_dp_with_secure_aggregation_on_the_cnn(tmp_path: Path) -> None:
    run = use_case_network("imaging", tmp_path, owners=HOSPITALS)
    rounds, target = 2, 20.0
    privacy = calibrate(PrivacySpec(PrivacyLevel.CLIENT, 1.0, 1.0, 1e-5, clients=3), target,
                        rounds)  # fmt: skip
    spec = dataclasses.replace(run.plan.spec, privacy=privacy)
    job_id, model = run.train(spec, rounds, secure=True, max_epsilon=target)
    assert 0 < run.net.root.jobs.job(job_id).epsilon_spent <= target + 1e-6
    assert all(np.isfinite(v).all() for v in model.values())
