"""Blobs by role, written as the attacks they stop (issue 11, findings 3 and 4): reading a
participant's update from the hash its receipt put on chain, and storing anything at any
node; and what remains allowed: the job's own members reading its models, a quota per
sender, and finished jobs' blobs collected after the retention period."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
import pytest

from dain.data import ConsentPolicy, load_bundled, partition_stratified
from dain.devnet import Devnet
from dain.identity import Identity
from dain.learning import ModelSpec, TrainConfig, init_params, param_shapes
from dain.ledger import TOKEN_UNIT, JobTerms
from dain.node import ENVELOPE_HEADER, JobSpec, Node, Request, blob_request, seal
from dain.storage import cid_from_digest, cid_of, encode_tensors


@dataclass
class Network:
    net: Devnet
    job_id: int
    hospitals: list[Node]
    researcher: Node
    outsider: Node  # a member with no role in the job
    shapes: dict[str, tuple[int, ...]]


def _network(rounds: int = 2) -> Network:
    net = Devnet()
    data = load_bundled("breast_cancer")
    hospitals = [net.add_node(f"h{i}", tokens=10_000) for i in range(3)]
    researcher = net.add_node("researcher", tokens=10_000)
    outsider = net.add_node("outsider", tokens=10_000)
    parts = partition_stratified(data.y, np.full(3, 1 / 3), 1)
    assets = [h.register_asset(data.subset(p), h.name, ConsentPolicy(("diagnosis",)))
              for h, p in zip(hospitals, parts, strict=True)]  # fmt: skip
    spec = JobSpec("roles", ModelSpec("logreg", 30, 2), TrainConfig(0.1, 1, 16))
    job_id = researcher.ledger.propose_job(JobTerms(
        "diagnosis", rounds, TOKEN_UNIT, researcher.blobs.put(spec.to_bytes()),
        researcher.blobs.put(encode_tensors(init_params(spec.model, 0)))))  # fmt: skip
    net.pass_proposal(researcher.ledger.gov.propose_job_approval(job_id), list(net.nodes.values()))
    for hospital, asset in zip(hospitals, assets, strict=True):
        hospital.enroll(job_id, asset)
    researcher.ledger.jobs.start(job_id)
    return Network(net, job_id, hospitals, researcher, outsider, param_shapes(spec.model))


def _get(at: Node, cid: str, job_id: int, who: Node | Identity | None) -> int:
    headers = {}
    if who is not None:
        identity = who.ledger.identity if isinstance(who, Node) else who
        headers = blob_request(identity, at.ledger.chain_id, cid, job_id)
    return at.handle(Request("GET", f"/blobs/{cid}", headers=headers)).status


def _put(at: Node, blob: bytes, who: Node, kind: str, job_id: int, round: int) -> tuple[int, dict]:
    ledger = who.ledger
    signed = seal(ledger.identity, ledger.chain_id, "blob-put", job_id, round,
                  {"cid": cid_of(blob), "kind": kind})  # fmt: skip
    headers = {ENVELOPE_HEADER: signed.to_bytes().decode()}
    answer = at.handle(Request("POST", "/blobs", blob, headers))
    return answer.status, json.loads(answer.body)


def test_an_update_named_on_chain_cannot_be_downloaded_by_anyone_but_its_aggregator() -> None:
    n = _network()
    record, _ = n.net.run_round(n.job_id, 1)
    assert record is not None
    aggregator = n.net.node_of(record.aggregator)
    stranger = Identity.create()  # not even a member
    downloaded = 0
    for used in n.net.root.jobs.data_used(job_id=n.job_id):  # what anyone reads on chain
        cid = cid_from_digest(used.update_hash)
        owner = n.net.node_of(used.owner)
        for holder in {owner, aggregator}:
            assert holder.blobs.has(cid)  # the update is there to be asked for
            # (the round's aggregator had every update while the round was open)
            others = [h for h in n.hospitals if h is not aggregator]
            for who in (None, stranger, n.outsider, n.researcher, *others):
                status = _get(holder, cid, n.job_id, who)
                downloaded += status == 200
                assert status in (401, 403), (holder.name, who)
    assert downloaded == 0


def test_a_job_naming_someone_elses_update_as_its_spec_reads_nothing() -> None:
    """Proposing a job costs a member only a pool it can cancel back, and the chain does not
    check what its spec and model CIDs name: naming another's update (its CID follows from
    the update hash on chain) or a round's model must not make that blob readable."""
    n = _network()
    record, _ = n.net.run_round(n.job_id, 1)
    assert record is not None
    aggregator = n.net.node_of(record.aggregator)
    used = n.net.root.jobs.data_used(job_id=n.job_id)[0]
    owner = n.net.node_of(used.owner)
    update = cid_from_digest(used.update_hash)
    for stolen, holder in ((update, owner), (record.model_cid, aggregator)):
        job_id = n.outsider.ledger.propose_job(JobTerms("diagnosis", 1, TOKEN_UNIT, stolen,
                                                        stolen))  # fmt: skip
        assert _get(holder, stolen, job_id, n.outsider) == 403


def test_the_jobs_members_read_its_models_and_nobody_else_does() -> None:
    n = _network()
    record, _ = n.net.run_round(n.job_id, 1)
    assert record is not None
    aggregator = n.net.node_of(record.aggregator)
    for reader in (n.researcher, *n.hospitals):
        if reader is not aggregator:
            assert _get(aggregator, record.model_cid, n.job_id, reader) == 200
    assert _get(aggregator, record.model_cid, n.job_id, n.outsider) == 403
    spec_cid = n.net.root.jobs.job(n.job_id).spec_cid
    assert _get(n.researcher, spec_cid, n.job_id, n.hospitals[0]) == 200
    # a spec is a job's terms: any member reads it (to vote, or before enrolling), no one else
    assert _get(n.researcher, spec_cid, n.job_id, n.outsider) == 200
    assert _get(n.researcher, spec_cid, n.job_id, Identity.create()) in (401, 403)


def test_nobody_stores_a_blob_without_a_role_that_sends_one() -> None:
    n = _network()
    round_ = 1
    elected = n.net.node_of(n.net.root.jobs.aggregator_of(n.job_id, round_))
    other = next(h for h in n.hospitals if h is not elected)
    update = encode_tensors({k: np.zeros(s, np.float16) for k, s in n.shapes.items()})
    junk = encode_tensors({"anything": np.zeros(1000, np.float32)})

    assert elected.handle(Request("POST", "/blobs", junk)).status == 401  # anonymous
    assert _put(elected, update, n.outsider, "update", n.job_id, round_)[0] == 403
    assert _put(elected, update, n.researcher, "update", n.job_id, round_)[0] == 403
    assert _put(other, update, n.hospitals[0], "update", n.job_id, round_)[0] == 409  # not elected
    assert _put(elected, junk, other, "spec", n.job_id, round_)[0] == 403
    assert _put(elected, junk, other, "handout", n.job_id, round_)[0] == 403  # not the aggregator
    status, answer = _put(elected, junk, other, "update", n.job_id, round_)
    assert status == 400 and "float16" in answer["error"]  # what its kind says, nothing else
    assert _put(elected, update, other, "update", n.job_id, round_ + 1)[0] == 409  # not this round
    assert _put(elected, update, other, "update", n.job_id, round_)[0] == 201


def test_each_sender_has_a_quota_and_finished_jobs_are_collected() -> None:
    n = _network(rounds=1)
    elected = n.net.node_of(n.net.root.jobs.aggregator_of(n.job_id, 1))
    sender = next(h for h in n.hospitals if h is not elected)
    elected.blob_access.quota_bytes = 2_000
    blobs = [encode_tensors({k: np.full(s, i, np.float16) for k, s in n.shapes.items()})
             for i in range(40)]  # fmt: skip
    statuses = [_put(elected, b, sender, "update", n.job_id, 1) for b in blobs]

    taken = sum(len(b) for b, (status, _) in zip(blobs, statuses, strict=True) if status == 201)
    assert 0 < taken <= 2_000
    refused = [answer["error"] for status, answer in statuses if status == 413]
    assert refused and "quota" in refused[0]

    elected.blob_access.quota_bytes = 10**9  # room again for the round's own update
    record, _ = n.net.run_round(n.job_id, 1)  # the job's one round: it is over
    assert record is not None
    elected.blob_access.retention_seconds = 3600
    assert elected.blob_access.collect(now=time.time()) == 0  # within the retention period
    freed = elected.blob_access.collect(now=time.time() + 3601)

    assert freed >= taken
    assert not any(elected.blobs.has(cid_of(b)) for b in blobs)
    assert elected.blobs.has(record.model_cid)  # the final model stays
    assert elected.ctx.index.stored_by(sender.address) == 0  # its quota is free again


@pytest.mark.parametrize("tamper", ["cid", "kind"])
def test_a_blob_request_is_signed_for_exactly_what_it_carries(tamper: str) -> None:
    n = _network()
    elected = n.net.node_of(n.net.root.jobs.aggregator_of(n.job_id, 1))
    sender = next(h for h in n.hospitals if h is not elected)
    update = encode_tensors({k: np.zeros(s, np.float16) for k, s in n.shapes.items()})
    body = {"cid": cid_of(update), "kind": "update"}
    body[tamper] = cid_of(b"other") if tamper == "cid" else "spec"
    signed = seal(sender.ledger.identity, sender.ledger.chain_id, "blob-put", n.job_id, 1, body)
    answer = elected.handle(Request("POST", "/blobs", update,
                                    {ENVELOPE_HEADER: signed.to_bytes().decode()}))  # fmt: skip
    assert answer.status in (401, 403)
