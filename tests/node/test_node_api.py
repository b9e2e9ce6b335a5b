"""A node refuses bad input from peers with a 4xx and a reason, and keeps serving."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

from dain.data import ConsentPolicy, load_bundled, partition_stratified
from dain.devnet import Devnet
from dain.identity import Identity
from dain.learning import ModelSpec, TrainConfig, init_params, param_shapes
from dain.ledger import TOKEN_UNIT, JobTerms, Receipt
from dain.node import JobSpec, Node, PeerError, Request, Response, seal
from dain.node.transport import ENVELOPE_HEADER
from dain.storage import cid_of, digest_of, encode_tensors


@dataclass
class Running:
    net: Devnet
    job_id: int
    aggregator: Node
    owner: Node
    asset_id: int
    shapes: dict[str, tuple[int, ...]]


@pytest.fixture(scope="module")
def running() -> Running:
    net = Devnet()
    data = load_bundled("breast_cancer")
    owners = [net.add_node(f"h{i}", tokens=10_000) for i in range(2)]
    requester = net.add_node("researcher", tokens=10_000)
    assets = [
        owner.register_asset(data.subset(rows), f"h{i}", ConsentPolicy(("diagnosis",)))
        for i, (owner, rows) in enumerate(
            zip(owners, partition_stratified(data.y, np.array([0.5, 0.5]), 1), strict=True)
        )
    ]
    spec = JobSpec("test", ModelSpec("logreg", 30, 2), TrainConfig())
    job_id = requester.ledger.propose_job(
        JobTerms(
            "diagnosis",
            3,
            TOKEN_UNIT,
            requester.blobs.put(spec.to_bytes()),
            requester.blobs.put(encode_tensors(init_params(spec.model, 0))),
        )
    )
    net.pass_proposal(requester.ledger.gov.propose_job_approval(job_id), list(net.nodes.values()))
    for owner, asset in zip(owners, assets, strict=True):
        owner.ledger.jobs.enroll(job_id, asset)
    requester.ledger.jobs.start(job_id)
    aggregator = net.node_of(net.root.jobs.aggregator_of(job_id, 1))
    owner = owners[1] if aggregator is owners[0] else owners[0]
    return Running(
        net, job_id, aggregator, owner, assets[owners.index(owner)], param_shapes(spec.model)
    )


def _send(
    r: Running, method: str, path: str, body: bytes = b"", headers: dict | None = None
) -> tuple[int, dict]:
    request = Request(method, path, body, headers or {})
    response = r.net.transport.send(r.aggregator.endpoint, request)
    return response.status, json.loads(response.body) if response.body else {}


def _signed(signer: Node, kind: str, job_id: int, round: int, body: dict) -> dict[str, str]:
    """The header that says, signed, who sends or asks for a blob."""
    ledger = signer.ledger
    envelope = seal(ledger.identity, ledger.chain_id, kind, job_id, round, body)
    return {ENVELOPE_HEADER: envelope.to_bytes().decode()}


def _put(r: Running, blob: bytes, signer: Node, kind: str = "update") -> tuple[int, dict]:
    header = _signed(signer, "blob-put", r.job_id, 1, {"cid": cid_of(blob), "kind": kind})
    return _send(r, "POST", "/blobs", blob, header)


def _update(
    r: Running,
    tensors: dict[str, np.ndarray],
    *,
    signer: Node | None = None,
    asset_id: int | None = None,
) -> bytes:
    signer = signer or r.owner
    status, answer = _put(r, encode_tensors(tensors), signer)
    assert status == 201, answer
    cid = answer["cid"]
    receipt = Receipt(r.job_id, 1, asset_id or r.asset_id, 10, digest_of(cid)).signed_by(
        signer.ledger.identity, signer.ledger.chain_id, signer.ledger.jobs.address
    )
    body = {
        "asset_id": str(asset_id or r.asset_id),
        "update_cid": cid,
        "num_examples": 10,
        "receipt_signature": "0x" + receipt.signature.hex(),
    }
    return seal(
        signer.ledger.identity, signer.ledger.chain_id, "update", r.job_id, 1, body
    ).to_bytes()


def _zeros(r: Running) -> dict[str, np.ndarray]:
    return {name: np.zeros(shape, np.float16) for name, shape in r.shapes.items()}


def _assert_still_serving(r: Running) -> None:
    assert _send(r, "GET", "/health")[0] == 200


def test_garbage_is_refused(running: Running) -> None:
    for body in (b"", b"not json", b"[]", b'{"kind": "update"}', b"\xff\xfe"):
        status, answer = _send(running, "POST", "/updates", body)
        assert 400 <= status < 500 and answer["error"]
    _assert_still_serving(running)


def test_oversized_body_is_refused(running: Running) -> None:
    status, answer = _send(
        running, "POST", "/blobs", b"\0" * (running.aggregator.max_body_bytes + 1)
    )
    assert status == 413 and "exceeds" in answer["error"]
    _assert_still_serving(running)


def test_malformed_safetensors_is_refused(running: Running) -> None:
    status, answer = _put(running, b"\x08\0\0\0\0\0\0\0{garbage", running.owner)
    assert status == 400 and "safetensors" in answer["error"]


def test_wrong_shape_and_non_finite_tensors_are_refused(running: Running) -> None:
    wrong = _zeros(running) | {"0.weight": np.zeros((3, 30), np.float16)}
    status, answer = _send(running, "POST", "/updates", _update(running, wrong))
    assert status == 400 and "shape" in answer["error"]

    single = {name: t.astype(np.float32) for name, t in _zeros(running).items()}
    status, answer = _put(running, encode_tensors(single), running.owner)
    assert status == 400 and "float16" in answer["error"]

    poisoned = _zeros(running)
    poisoned["0.bias"][0] = np.nan
    status, answer = _send(running, "POST", "/updates", _update(running, poisoned))
    assert status == 400 and "NaN" in answer["error"]
    _assert_still_serving(running)


def test_unknown_sender_is_refused(running: Running) -> None:
    stranger = Node(
        "stranger",
        running.net.root.as_identity(Identity.create()),
        running.owner.blobs,
        running.net.transport,
        "mem://stranger",
    )
    status, answer = _put(running, encode_tensors(_zeros(running)), stranger)
    assert status == 401 and "not a registered member" in answer["error"]
    status, answer = _send(running, "POST", "/blobs", encode_tensors(_zeros(running)))
    assert status == 401 and "no signed envelope" in answer["error"]  # anonymous: refused


def test_update_for_someone_elses_asset_is_refused(running: Running) -> None:
    intruder = running.net.nodes["researcher"]
    status, answer = _put(running, encode_tensors(_zeros(running)), intruder)
    assert status == 403 and "owns no asset" in answer["error"]
    header = _signed(intruder, "update", running.job_id, 1, {"asset_id": str(running.asset_id)})
    envelope = header[ENVELOPE_HEADER].encode()
    status, answer = _send(running, "POST", "/updates", envelope)
    assert status == 409 and "does not own" in answer["error"]


def test_valid_update_is_accepted_once_and_replays_are_refused(running: Running) -> None:
    envelope = _update(running, _zeros(running))

    assert _send(running, "POST", "/updates", envelope) == (
        202,
        {"accepted": True, "job_id": running.job_id, "round": 1},
    )
    status, answer = _send(running, "POST", "/updates", envelope)
    assert status == 401 and "already received" in answer["error"]
    # the same update in a fresh envelope (a node resending after a crash) is taken once
    status, answer = _send(running, "POST", "/updates", _update(running, _zeros(running)))
    assert status == 202 and answer["duplicate"] is True
    other = {name: np.ones(shape, np.float16) for name, shape in running.shapes.items()}
    status, answer = _send(running, "POST", "/updates", _update(running, other))
    assert status == 409 and "already sent" in answer["error"]


def test_blobs_are_served_by_role_and_unknown_routes_get_404(running: Running) -> None:
    r = running
    update = encode_tensors({n: np.full(s, 0.5, np.float16) for n, s in r.shapes.items()})
    assert _put(r, update, r.owner)[0] == 201
    researcher = r.net.nodes["researcher"]

    def get(cid: str, who: Node | None) -> int:
        header = _signed(who, "blob-get", r.job_id, 0, {"cid": cid}) if who else None
        return _send(r, "GET", f"/blobs/{cid}", headers=header)[0]

    assert get(cid_of(update), None) == 401  # anonymous
    assert get(cid_of(update), researcher) == 403  # a participant's update: not the requester's
    assert get(cid_of(update), r.owner) == 403  # nor, once sent, its own sender's
    spec_cid = r.net.root.jobs.job(r.job_id).spec_cid
    assert researcher.blobs.has(spec_cid)
    response = r.net.transport.send(researcher.endpoint, Request(
        "GET", f"/blobs/{spec_cid}", headers=_signed(r.owner, "blob-get", r.job_id, 0,
                                                      {"cid": spec_cid})))  # fmt: skip
    assert response.status == 200 and cid_of(response.body) == spec_cid  # a participant's
    header = _signed(r.owner, "blob-get", r.job_id, 0, {"cid": cid_of(update)})
    assert _send(r, "GET", f"/blobs/{spec_cid}", headers=header)[0] == 401  # signed for another
    assert _send(r, "GET", "/nowhere")[0] == 404
    assert (
        _send(
            running, "GET", "/blobs/bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        )[0]
        == 404
    )


def test_a_peer_answering_garbage_is_a_peer_error_not_a_crash(running: Running) -> None:
    liar = running.owner
    running.net.transport.register(liar.endpoint, lambda _request: Response(200, b"\x00garbage"))
    try:
        with pytest.raises(PeerError, match="non-JSON"):
            running.aggregator.peers.post(liar.address, "/updates", b"{}")
    finally:
        running.net.transport.register(liar.endpoint, liar.handle)


def test_huge_integers_and_bfloat16_tensors_get_a_4xx_not_a_500(running: Running) -> None:
    # both got a 500: a 20,000-digit number fails Python's int conversion, and numpy has no
    # bfloat16 for safetensors to load into
    huge = b'{"body":{},"job_id":' + b"9" * 20_000 + b"}"
    status, answer = _send(running, "POST", "/updates", huge)
    assert status == 401 and "cannot be read" in answer["error"]
    header = json.dumps({"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}).encode()
    bf16 = len(header).to_bytes(8, "little") + header + b"\0" * 4
    status, answer = _put(running, bf16, running.owner)
    assert status == 400 and "type dain does not use" in answer["error"]
    _assert_still_serving(running)
