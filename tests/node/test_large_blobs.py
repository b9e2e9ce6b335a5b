"""Blobs over one IPFS block (256 KiB) go by the UnixFS CID `ipfs add` gives them, while
receipts and round records still sign the sha2-256 of the bytes: a model large enough
that its updates, masked updates and models all span several blocks trains in plain and
secure rounds, and what the chain holds matches the bytes the nodes keep."""

from __future__ import annotations

import numpy as np

from dain.data import ConsentPolicy, load_bundled, partition_stratified
from dain.devnet import Devnet
from dain.learning import ModelSpec, TrainConfig, init_params
from dain.ledger import TOKEN_UNIT, JobTerms
from dain.node import JobSpec, Node
from dain.node.blob_index import BlobKind
from dain.storage import CHUNK_SIZE, content_hash, encode_tensors, verify
from tests.node.secure_network import HOSPITALS, secure_network

# 30 -> 512 -> 256 -> 2: 147,714 parameters, so a float16 update is 295 KB (two blocks),
# a float32 model 591 KB and a masked update (uint32) 591 KB
LARGE = ModelSpec("mlp", 30, 2, (512, 256))


def _plain_job(rounds: int) -> tuple[Devnet, int, list[Node]]:
    net = Devnet()
    data = load_bundled("breast_cancer")
    hospitals = [net.add_node(f"h{i}", tokens=10_000) for i in range(3)]
    researcher = net.add_node("researcher", tokens=10_000)
    parts = partition_stratified(data.y, np.full(3, 1 / 3), 1)
    assets = [h.register_asset(data.subset(p), h.name, ConsentPolicy(("diagnosis",)))
              for h, p in zip(hospitals, parts, strict=True)]  # fmt: skip
    spec = JobSpec("large", LARGE, TrainConfig(0.05, 1, 64))
    job_id = researcher.ledger.propose_job(JobTerms(
        "diagnosis", rounds, TOKEN_UNIT, researcher.blobs.put(spec.to_bytes()),
        researcher.blobs.put(encode_tensors(init_params(spec.model, 0)))))  # fmt: skip
    net.pass_proposal(researcher.ledger.gov.propose_job_approval(job_id), list(net.nodes.values()))
    for hospital, asset in zip(hospitals, assets, strict=True):
        hospital.enroll(job_id, asset)
    researcher.ledger.jobs.start(job_id)
    return net, job_id, hospitals


def _blobs_of(node: Node, job_id: int, kind: BlobKind) -> dict[str, bytes]:
    return {cid: node.blobs.get(cid) for cid, tag in node.ctx.index.of_job(job_id)
            if tag.kind is kind}  # fmt: skip


def _check_records(net: Devnet, job_id: int, rounds: int) -> None:
    """Each round's model is a UnixFS tree whose bytes hash to the recorded model hash."""
    for round in range(1, rounds + 1):
        record = net.root.jobs.round_record(job_id, round)
        model = next(n.blobs.get(record.model_cid) for n in net.nodes.values()
                     if n.blobs.has(record.model_cid))  # fmt: skip
        assert len(model) > CHUNK_SIZE and record.model_cid.startswith("bafybei")
        verify(record.model_cid, model)
        assert record.model_hash == content_hash(model)


def test_plain_rounds_with_updates_and_models_over_one_block() -> None:
    net, job_id, hospitals = _plain_job(rounds=2)

    for round in (1, 2):  # round 2 rebuilds round 1's model from its hand-out, by CID
        record, took_part = net.run_round(job_id, round)
        assert record is not None and record.participants == 3, took_part

    _check_records(net, job_id, 2)
    signed = {(u.round, u.update_hash) for u in net.root.jobs.data_used(job_id=job_id)}
    made = {(tag.round, content_hash(h.blobs.get(cid)))
            for h in hospitals for cid, tag in h.ctx.index.of_job(job_id)
            if tag.kind is BlobKind.UPDATE and not tag.sender}  # fmt: skip
    assert signed == made and len(signed) == 6  # each receipt signs its update's bytes
    updates = [b for h in hospitals for b in _blobs_of(h, job_id, BlobKind.UPDATE).values()]
    assert min(len(b) for b in updates) > CHUNK_SIZE


def test_a_secure_round_with_masked_updates_over_one_block() -> None:
    n = secure_network(rounds=1, model=LARGE)

    record = n.net.run_secure_round(n.job_id, 1)

    assert record is not None and record.participants == HOSPITALS
    _check_records(n.net, n.job_id, 1)
    masked = {cid: blob for node in n.hospitals.values()
              for cid, blob in _blobs_of(node, n.job_id, BlobKind.MASKED).items()}  # fmt: skip
    assert min(len(b) for b in masked.values()) > CHUNK_SIZE
    by_hash = {content_hash(b) for b in masked.values()}
    assert {u.update_hash for u in n.net.root.jobs.data_used(job_id=n.job_id)} <= by_hash
