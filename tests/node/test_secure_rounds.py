"""Secure rounds on an in-process node network (embedded chain, in-memory transport): the
aggregator holds only masked updates and the sum, dropped clients are recovered, too few
survivors abort the round on chain, and privacy loss is recorded and budgeted."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dain.learning import ModelSpec, TrainConfig, accuracy
from dain.learning.privacy import PrivacyLevel, PrivacySpec
from dain.node import MASKED, JobSpec, ProtocolError, SecAggSettings
from dain.storage import UINT32, decode_tensors
from tests.node.secure_network import (
    HOSPITALS,
    aggregator_of,
    model_of,
    plain_mean,
    secure_network,
)


def test_a_secure_job_runs_and_the_aggregator_sees_only_masked_updates() -> None:
    n = secure_network(rounds=3)
    for round in (1, 2, 3):
        record = n.net.run_secure_round(n.job_id, round)
        assert record is not None and record.participants == HOSPITALS
    used = n.net.root.jobs.data_used(job_id=n.job_id)
    assert sorted((u.round, u.asset_id) for u in used) == sorted(
        (r, a) for r in (1, 2, 3) for a in n.assets.values()
    )
    model = model_of(n, n.net.root.jobs.job(n.job_id).model_cid)
    assert accuracy(n.spec.model, model, n.test_x, n.test_y) >= 0.9
    # everything sent to an aggregator: masked integer vectors and small JSON messages
    aggregators = {n.hospitals[aggregator_of(n, r)].endpoint for r in (1, 2, 3)}
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


@pytest.mark.parametrize("late", ["input", "signed"])
def test_dropped_clients_are_recovered_and_the_model_is_the_survivors_mean(late: str) -> None:
    n = secure_network(rounds=1)
    agg = aggregator_of(n, 1)
    shared_only, late_one = [name for name in n.hospitals if name != agg][:2]
    job = n.net.root.jobs.job(n.job_id)
    before = model_of(n, job.model_cid)
    record = n.net.run_secure_round(n.job_id, 1, stop_after={shared_only: "shared", late_one: late})
    assert record is not None
    summary = n.hospitals[agg].secure_aggregator.summaries[f"{n.job_id}/1"]
    assert summary == {
        "outcome": "summed", "shared": 5, "roster": 5, "survivors": 4,
        "signed": 3 if late == "input" else 4, "answered_unmask": 3, "reason": "",
    }  # fmt: skip
    # the one that left before its masked update is not in the sum; the one that left after
    # it is, whether it signed the survivor set or not
    survivors = [name for name in n.hospitals if name != shared_only]
    used = {u.asset_id for u in n.net.root.jobs.data_used(job_id=n.job_id)}
    assert used == {n.assets[name] for name in survivors}
    expected = plain_mean(n, job, 1, survivors)
    after = model_of(n, record.model_cid)
    for name in before:
        change = after[name] - before[name]
        # the only differences: fixed-point quantization and the float16 hand-out
        np.testing.assert_allclose(change, expected[name], atol=2e-3, rtol=2e-3)


def test_too_few_survivors_abort_the_round_on_chain_and_the_job_goes_on() -> None:
    n = secure_network(rounds=2)
    agg = aggregator_of(n, 1)
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
    n = secure_network(rounds=3, privacy=privacy, max_epsilon=limit)
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
    n = secure_network(rounds=1, privacy=privacy, max_epsilon=100.0)
    quitter = next(name for name in n.hospitals if name != aggregator_of(n, 1))
    record = n.net.run_secure_round(n.job_id, 1, stop_after={quitter: "shared"})
    assert record is not None and record.participants == 0 and record.epsilon == 0
    assert n.net.root.jobs.rounds_aborted(n.job_id) == [1]
    summary = n.hospitals[aggregator_of(n, 1)].secure_aggregator.summaries[f"{n.job_id}/1"]
    assert "noise shares" in summary["reason"]


@pytest.mark.parametrize(
    ("asked", "refusal"),
    [
        ({"threshold": 1}, "below the floor of 3"),
        ({"threshold": 2}, "below the floor of 3"),
        ({"degree": 2}, "below the floor of 4 or odd"),
        ({"degree": 7}, "below the floor of 4 or odd"),
        ({"degree": 16, "threshold": 8}, "below the floor of 9 for 16 neighbours"),
        ({"degree": 4, "threshold": 6}, "exceeds the 5 holders"),
        ({"check_by": 0.6}, "deadlines must rise"),
    ],
)
def test_a_spec_cannot_lower_the_secure_aggregation_floors(
    asked: dict[str, float], refusal: str
) -> None:
    with pytest.raises(ProtocolError, match=refusal):
        SecAggSettings(**asked)  # type: ignore[arg-type]
    # nor through the document whose content id is on chain
    spec = JobSpec("x", ModelSpec("logreg", 30, 2), TrainConfig())
    raw = json.loads(spec.to_bytes())
    with pytest.raises(ProtocolError, match=refusal):
        JobSpec.from_bytes(json.dumps(raw | {"secagg": asked}).encode())
    # what a spec asks that the floors allow is kept, and round-trips
    allowed = SecAggSettings(degree=16, threshold=9, check_by=0.4)
    assert SecAggSettings.from_dict(allowed.to_dict()) == allowed
    assert "check_by" not in SecAggSettings(threshold=3).to_dict()  # old content ids hold
