"""A round's model travels as a float16 delta that every node applies identically: the
participants rebuild the recorded model bit for bit and never download it."""

from __future__ import annotations

import numpy as np

from dain.data import ConsentPolicy, load_bundled, partition_stratified
from dain.devnet import Devnet
from dain.learning import ModelSpec, TrainConfig, init_params
from dain.ledger import TOKEN_UNIT, JobTerms
from dain.node import JobSpec
from dain.storage import cid_of, encode_tensors


def test_participants_rebuild_each_round_model_from_the_half_size_delta() -> None:
    net = Devnet(record=True)
    data = load_bundled("breast_cancer")
    hospitals = [net.add_node(f"h{i}", tokens=10_000) for i in range(2)]
    researcher = net.add_node("researcher", tokens=10_000)
    parts = partition_stratified(data.y, np.array([0.5, 0.5]), 1)
    assets = [h.register_asset(data.subset(p), h.name, ConsentPolicy(("diagnosis",)))
              for h, p in zip(hospitals, parts, strict=True)]  # fmt: skip
    spec = JobSpec("delta", ModelSpec("mlp", 30, 2, (64,)), TrainConfig(0.1, 1, 16))
    initial = encode_tensors(init_params(spec.model, 0))
    job_id = researcher.ledger.propose_job(
        JobTerms(
            "diagnosis",
            3,
            TOKEN_UNIT,
            researcher.blobs.put(spec.to_bytes()),
            researcher.blobs.put(initial),
        )
    )
    net.pass_proposal(researcher.ledger.gov.propose_job_approval(job_id), list(net.nodes.values()))
    for hospital, asset in zip(hospitals, assets, strict=True):
        hospital.ledger.jobs.enroll(job_id, asset)
    researcher.ledger.jobs.start(job_id)

    records = [net.run_round(job_id, r)[0] for r in (1, 2, 3)]

    model_cids = [r.model_cid for r in records if r is not None]
    assert len(model_cids) == 3
    fetched = [c.request.path for c in net.transport.carried if c.request.method == "GET"]
    for cid in model_cids[:2]:  # the models the participants trained from
        assert f"/blobs/{cid}" not in fetched
        for hospital in hospitals:
            assert hospital.blobs.has(cid)
            assert cid_of(hospital.blobs.get(cid)) == cid
    handed = [len(c.request.body) for c in net.transport.carried
              if c.request.method == "POST" and c.request.path == "/blobs"]  # fmt: skip
    assert max(handed) < 0.6 * len(initial)  # float16 updates and deltas: half the bytes
