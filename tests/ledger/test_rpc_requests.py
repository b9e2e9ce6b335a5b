"""What dain sends an RPC node: a contract read is one request. web3.py asks the chain id
before and after every call; RpcChain's provider answers that itself after the first time.
A recording JSON-RPC relay on 127.0.0.1 stands between dain and anvil and lists what came."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from dain.identity import Identity
from dain.ledger import Ledger, NetworkParams, deploy
from dain.ledger.anvil import AnvilProcess
from dain.ledger.backend import RpcChain


class Relay(ThreadingHTTPServer):
    def __init__(self, target: str) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.target = target
        self.methods: list[str] = []


class _Forward(BaseHTTPRequestHandler):
    server: Relay

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = json.loads(body)
        for one in request if isinstance(request, list) else [request]:
            self.server.methods.append(one["method"])
        answer = httpx.post(self.server.target, content=body,
                            headers={"Content-Type": "application/json"})  # fmt: skip
        self.send_response(answer.status_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def relay(anvil: AnvilProcess) -> Iterator[Relay]:
    server = Relay(anvil.url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_a_contract_read_is_one_request(relay: Relay) -> None:
    chain = RpcChain(f"http://127.0.0.1:{relay.server_address[1]}")
    treasury = Identity.create()
    chain.fund(treasury.address, 10**20)
    deployment = deploy(chain.web3, treasury, NetworkParams(), founders=[],
                        gas_limit=chain.gas_limit)  # fmt: skip
    ledger = Ledger(chain, deployment, treasury)
    ledger.registry.is_member(treasury.address)  # warms web3's per-thread cache
    relay.methods.clear()

    for _ in range(3):
        ledger.registry.is_member(treasury.address)

    assert relay.methods == ["eth_call"] * 3
