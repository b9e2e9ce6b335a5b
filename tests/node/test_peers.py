"""The client side of talking to peers: a peer's answer becomes the error it stands for,
blobs are checked against their content id, and one peer that is down never stops a
hand-out to the others."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dain.identity import Identity
from dain.node import (
    Contact,
    InMemoryTransport,
    PeerConflict,
    PeerNotReady,
    PeerRefused,
    PeerUnavailable,
    Request,
    Response,
    seal,
)
from dain.node.envelope import Envelope
from dain.node.peers import Peers
from dain.storage import MemoryBlobStore, cid_of, encode_tensors

ME = Identity.create()
BLOB = encode_tensors({"w": np.arange(4, dtype=np.float32)})


def _peers(transport: InMemoryTransport, endpoints: dict[str, str]) -> tuple[Peers, list[str]]:
    looked_up: list[str] = []

    def lookup(address: str) -> Contact:
        looked_up.append(address)
        return Contact(endpoints[address])

    def sign(kind: str, job_id: int, round: int, body: dict) -> bytes:
        return seal(ME, 31337, kind, job_id, round, body).to_bytes()

    return Peers("0xme", transport, MemoryBlobStore(), lookup, sign), looked_up


def _answering(status: int, payload: object) -> object:
    return lambda request: Response(status, json.dumps(payload).encode())


@pytest.mark.parametrize(("status", "kind"), [
    (425, PeerNotReady), (429, PeerNotReady), (409, PeerConflict), (400, PeerRefused),
    (401, PeerRefused), (413, PeerRefused), (404, PeerUnavailable), (500, PeerUnavailable),
    (503, PeerUnavailable),
])  # fmt: skip
def test_each_refusal_is_the_error_it_stands_for(status: int, kind: type) -> None:
    transport = InMemoryTransport()
    transport.register("mem://a", _answering(status, {"error": "because"}))
    peers, _ = _peers(transport, {"0xa": "mem://a"})

    with pytest.raises(kind, match="because") as raised:
        peers.post("0xa", "/updates", b"{}")

    assert raised.value.peer_status == status


def test_an_endpoint_is_looked_up_again_after_the_peer_did_not_answer() -> None:
    transport = InMemoryTransport()
    transport.register("mem://a", _answering(200, {"ok": True}))
    peers, looked_up = _peers(transport, {"0xa": "mem://a"})
    assert peers.get("0xa", "/health") == {"ok": True}
    assert peers.get("0xa", "/health") == {"ok": True}
    transport.unregister("mem://a")

    with pytest.raises(PeerUnavailable):
        peers.get("0xa", "/health")
    transport.register("mem://a", _answering(200, {"ok": True}))
    peers.get("0xa", "/health")

    assert looked_up == ["0xa", "0xa"]


def test_answers_that_are_not_json_objects_are_peer_errors() -> None:
    transport = InMemoryTransport()
    transport.register("mem://a", lambda request: Response(200, b"[1, 2]"))
    transport.register("mem://b", lambda request: Response(200, b"\x00\xff"))
    # an answer nested deep enough to overflow the parser's stack: refused, not parsed
    transport.register("mem://c", lambda request: Response(200, b"[" * 95_000 + b"]" * 95_000))
    peers, _ = _peers(transport, {"0xa": "mem://a", "0xb": "mem://b", "0xc": "mem://c"})
    with pytest.raises(PeerUnavailable, match="nests 95000 levels"):
        peers.post("0xc", "/updates", b"{}")
    with pytest.raises(PeerUnavailable, match="not an object"):
        peers.post("0xa", "/updates", b"{}")
    with pytest.raises(PeerUnavailable, match="non-JSON"):
        peers.post("0xb", "/updates", b"{}")


def test_a_blob_comes_from_the_first_holder_whose_copy_is_genuine() -> None:
    cid = cid_of(BLOB)
    transport = InMemoryTransport(record=True)
    transport.register("mem://liar", lambda request: Response(200, BLOB + b"tampered"))
    transport.register("mem://empty", _answering(404, {"error": "no such blob"}))
    transport.register("mem://good", lambda request: Response(200, BLOB))
    peers, _ = _peers(transport, {"0xliar": "mem://liar", "0xempty": "mem://empty",
                                  "0xgood": "mem://good", "0xgone": "mem://gone"})  # fmt: skip

    found = peers.fetch_blob(cid, ["0xme", "0xgone", "0xliar", "0xempty", "0xgood"])

    assert found == BLOB
    asked = [c.endpoint for c in transport.carried]
    assert asked == ["mem://liar", "mem://empty", "mem://good"]  # never itself
    signed = [Envelope.from_bytes(c.request.envelope) for c in transport.carried]
    assert {(e.kind, e.job_id, e.body["cid"]) for e in signed} == {("blob-get", 0, cid)}
    assert len({e.nonce for e in signed}) == 3  # each request signed afresh
    with pytest.raises(PeerUnavailable, match="No peer could provide"):
        peers.fetch_blob(cid_of(b"other"), ["0xliar"])


def test_a_hand_out_reaches_every_peer_but_the_one_that_is_down() -> None:
    transport = InMemoryTransport()
    received: dict[str, bytes] = {}
    for name in ("a", "b"):
        transport.register(f"mem://{name}", lambda request, name=name: (
            received.__setitem__(name, request.body), Response(201, b'{"cid": "x"}'))[1])
    peers, _ = _peers(transport, {"0xa": "mem://a", "0xb": "mem://b", "0xdown": "mem://down"})

    peers.hand_out(BLOB, ["0xa", "0xdown", "0xb", "0xme"], "handout", 4, 2)

    assert received == {"a": BLOB, "b": BLOB}


def test_requests_are_carried_as_given() -> None:
    transport = InMemoryTransport(record=True)
    transport.register("mem://a", _answering(202, {"accepted": True}))
    peers, _ = _peers(transport, {"0xa": "mem://a"})
    peers.post("0xa", "/updates", b"{}")
    assert transport.carried[0].request == Request("POST", "/updates", b"{}")
