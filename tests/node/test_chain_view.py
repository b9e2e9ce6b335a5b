"""A node's view of the chain: per-round answers are read once a second at most and
forgotten when the round changes; consent is read fresh every time."""

from __future__ import annotations

import numpy as np

from dain.data import ConsentPolicy, load_bundled, partition_stratified
from dain.devnet import Devnet
from dain.learning import ModelSpec, TrainConfig, init_params
from dain.ledger import TOKEN_UNIT, Consent, JobStatus, JobTerms
from dain.node import JobSpec
from dain.node.chain_view import ChainView
from dain.storage import encode_tensors


def _network() -> tuple[Devnet, int, dict[str, int]]:
    net = Devnet()
    data = load_bundled("breast_cancer")
    hospitals = [net.add_node(f"h{i}", tokens=10_000) for i in range(2)]
    researcher = net.add_node("researcher", tokens=10_000)
    parts = partition_stratified(data.y, np.array([0.5, 0.5]), 1)
    assets = {h.name: h.register_asset(data.subset(p), h.name, ConsentPolicy(("diagnosis",)))
              for h, p in zip(hospitals, parts, strict=True)}  # fmt: skip
    spec = JobSpec("view", ModelSpec("logreg", 30, 2), TrainConfig())
    job_id = researcher.ledger.propose_job(JobTerms(
        "diagnosis", 3, TOKEN_UNIT, researcher.blobs.put(spec.to_bytes()),
        researcher.blobs.put(encode_tensors(init_params(spec.model, 0)))))  # fmt: skip
    net.pass_proposal(researcher.ledger.gov.propose_job_approval(job_id), list(net.nodes.values()))
    for hospital in hospitals:
        hospital.enroll(job_id, assets[hospital.name])
    return net, job_id, assets


def test_answers_are_kept_for_a_while_and_forgotten_when_the_round_changes() -> None:
    net, job_id, _ = _network()
    node = net.nodes["h0"]
    view = ChainView(node.ledger, node.ctx.clock, fresh=3600)
    assert view.job(job_id).status == JobStatus.APPROVED

    net.nodes["researcher"].ledger.jobs.start(job_id)

    assert view.job(job_id).status == JobStatus.APPROVED  # within its freshness
    view.forget()
    assert view.job(job_id).status == JobStatus.RUNNING


def test_consent_is_never_cached() -> None:
    net, job_id, assets = _network()
    node = net.nodes["h0"]
    view = ChainView(node.ledger, node.ctx.clock, fresh=3600)
    job = view.job(job_id)
    assert view.consent(job, assets["h0"]) is Consent.ALLOWED
    assert view.live_assets(job, 1) == 2

    node.revoke(assets["h0"])

    assert view.consent(job, assets["h0"]) is Consent.REVOKED
    assert view.allowed(job, sorted(assets.values())) == [assets["h1"]]
    view.forget()
    assert view.live_assets(job, 1) == 1


def test_enrollment_is_read_once_the_job_runs_and_blob_holders_come_in_order() -> None:
    net, job_id, assets = _network()
    researcher = net.nodes["researcher"]
    researcher.ledger.jobs.start(job_id)
    view = ChainView(researcher.ledger, researcher.ctx.clock)
    job = view.job(job_id)
    assert sorted(view.enrolled(job)) == sorted(assets.values())

    record, _ = net.run_round(job_id, 1)
    view.forget()
    job = view.job(job_id)

    assert record is not None
    holders = view.holders(job)
    assert holders[:2] == [record.aggregator, researcher.address]
    assert sorted(holders) == sorted({n.address for n in net.nodes.values()})


def test_owners_come_in_one_read_and_outlive_a_round_change_but_not_their_freshness() -> None:
    net, job_id, assets = _network()
    node, heir = net.nodes["h0"], net.nodes["researcher"]
    net.nodes["researcher"].ledger.jobs.start(job_id)
    view = ChainView(node.ledger, node.ctx.clock, fresh=3600)
    job = view.job(job_id)
    owners = {assets[name]: net.nodes[name].address for name in ("h0", "h1")}
    assert view.owners(job) == owners
    assert view.takes_part(job, heir.address)  # the requester
    assert not view.takes_part(job, net.root.address)

    node.ledger.assets.transfer(assets["h0"], heir.address)
    view.forget()  # a round changed: who owns what did not, so it is kept

    assert view.owners(job) == owners
    view.fresh = 0  # once the answer is older than its freshness, the transfer shows
    assert view.owners(job)[assets["h0"]] == heir.address
