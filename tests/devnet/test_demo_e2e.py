"""The demo's network end to end: accuracy, the audit trail, rewards, and what crossed
the transport."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dain.data import load_bundled
from dain.devnet import StoryConfig, StoryResult, run_story
from dain.devnet.network import Devnet
from dain.learning import param_shapes
from dain.ledger import TOKEN_UNIT, JobStatus, RpcChain
from dain.node import Envelope, JobSpec
from dain.storage import CodecError, decode_tensors

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["embedded", "anvil"])
def story(request: pytest.FixtureRequest) -> tuple[StoryResult, Devnet]:
    chain = RpcChain(request.getfixturevalue("anvil").url) if request.param == "anvil" else None
    return run_story(StoryConfig(), chain=chain, record=True)


def test_federated_accuracy_matches_centralized(story: tuple[StoryResult, Devnet]) -> None:
    result, _ = story
    assert result.federated_accuracy >= 0.93
    assert abs(result.centralized_accuracy - result.federated_accuracy) <= 0.02
    assert len(result.rounds) == StoryConfig().rounds >= 10


def test_data_used_events_match_who_took_part_each_round(story: tuple[StoryResult, Devnet]) -> None:
    result, net = story
    events = net.root.jobs.data_used(job_id=result.job_id)
    for report in result.rounds:
        owners = {net.node_of(e.owner).name for e in events if e.round == report.round}
        assert owners == set(report.participants), report.round
    assert len(events) == sum(len(r.participants) for r in result.rounds)


def test_revoked_asset_is_not_used_after_revocation(story: tuple[StoryResult, Devnet]) -> None:
    result, net = story
    revoked = int(result.revoked_asset["asset_id"], 16)
    uses = net.root.jobs.data_used(asset_id=revoked)
    assert [u.round for u in uses] == list(range(1, result.revoked_asset["after_round"] + 1))
    assert all(u.block_number < result.revoked_asset["block"] for u in uses)
    later = [r for r in result.rounds if r.round > result.revoked_asset["after_round"]]
    assert later and all(result.revoked_asset["owner"] not in r.participants for r in later)


def test_excluded_asset_is_never_used(story: tuple[StoryResult, Devnet]) -> None:
    result, net = story
    excluded = int(result.excluded_asset["asset_id"], 16)
    assert "not allowed for this purpose" in result.excluded_asset["reason"]
    assert net.root.jobs.data_used(asset_id=excluded) == []
    assert excluded not in net.root.jobs.enrolled(result.job_id)


def test_rewards_paid_equal_the_pool(story: tuple[StoryResult, Devnet]) -> None:
    result, net = story
    paid = net.root.jobs.rewards_paid(result.job_id)
    assert sum(p.amount for p in paid) == StoryConfig().reward_pool * TOKEN_UNIT
    assert {net.node_of(p.owner).name for p in paid} == set(result.rewards)
    assert net.root.token.balance_of(net.deployment.jobs) == 0
    assert net.root.jobs.job(result.job_id).status == JobStatus.COMPLETED


def test_nothing_carried_contains_a_raw_data_row(story: tuple[StoryResult, Devnet]) -> None:
    result, net = story
    spec_cid = net.root.jobs.job(result.job_id).spec_cid
    spec = JobSpec.from_bytes(net.nodes["researcher"].blobs.get(spec_cid))
    shapes = param_shapes(spec.model)
    payloads = [p for c in net.transport.carried for p in (c.request.body, c.response.body) if p]
    assert len(payloads) > 50

    kinds = {"tensors": 0, "envelope": 0, "json": 0}
    for payload in payloads:
        try:
            decode_tensors(payload, expected=shapes, dtype=None)  # model-shaped tensors only
            kinds["tensors"] += 1
            continue
        except CodecError:
            pass
        if payload.startswith(b'{"body"'):
            envelope = Envelope.from_bytes(payload)
            assert envelope.kind == "update"
            assert set(envelope.body) == {
                "asset_id",
                "update_cid",
                "num_examples",
                "receipt_signature",
            }
            kinds["envelope"] += 1
            continue
        document = json.loads(payload)  # the job spec, acknowledgements
        assert document == json.loads(spec.to_bytes()) or set(document) <= {
            "cid",
            "accepted",
            "job_id",
            "round",
        }
        kinds["json"] += 1
    assert kinds["tensors"] > 0 and kinds["envelope"] > 0

    data = load_bundled("breast_cancer")
    blob = b"".join(payloads)
    for row in data.x:
        for encoded in (
            row.astype(np.float32).tobytes(),
            row.astype(np.float64).tobytes(),
            spec.model.standardize(row[None, :]).astype(np.float32).tobytes(),
        ):
            assert encoded not in blob


def test_the_secure_private_demo_keeps_its_promises() -> None:
    config = StoryConfig(rounds=4, revoke_after=2, secure=True, epsilon=8.0)
    result, net = run_story(config, record=True)
    assert result.secure_aggregation and result.federated_accuracy >= 0.9
    assert result.epsilon_spent is not None and result.epsilon_spent <= 8.0
    jobs = net.root.jobs
    assert jobs.job(result.job_id).epsilon_spent == pytest.approx(result.epsilon_spent)
    # who trained each round is exactly who the chain says was used
    for report in result.rounds:
        used = {e["owner"] for e in result.data_used_events if e["round"] == report.round}
        assert used == set(report.participants)
    revoker = result.revoked_asset["owner"]
    assert all(revoker not in r.participants for r in result.rounds if r.round > 2)
    # the aggregators received masked integer vectors only, never an update in the clear
    for carried in net.transport.carried:
        if carried.request.path == "/updates":
            raise AssertionError("a plain update crossed the network in a secure job")
