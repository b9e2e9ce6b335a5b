"""Talking to peers is bounded (issue 11, finding 5), written as the attacks: an endpoint on
chain that aims a node's requests at another URL, a private address, a peer that drips
its answer a byte at a time, and one that answers with hundreds of megabytes."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dain.node import HttpTransport, PeerUnavailable, Request
from dain.node.endpoints import check_endpoint


@pytest.mark.parametrize(("url", "expected"), [
    ("http://8.8.8.8:8600", "http://8.8.8.8:8600"),
    ("https://8.8.8.8", "https://8.8.8.8:443"),
    ("http://8.8.8.8:8600/", "http://8.8.8.8:8600"),
    ("http://[2001:4860:4860::8888]:8600", "http://[2001:4860:4860::8888]:8600"),
])  # fmt: skip
def test_a_plain_public_endpoint_is_taken(url: str, expected: str) -> None:
    assert check_endpoint(url) == expected


@pytest.mark.parametrize("url", [
    "http://8.8.8.8:8600/admin", "http://8.8.8.8:8600/?next=http://evil", "http://8.8.8.8#x",
    "http://user:secret@8.8.8.8", "ftp://8.8.8.8", "file:///etc/passwd", "gopher://8.8.8.8:70",
    "http://:8600", "http://8.8.8.8:99999", "not a url", "",
])  # fmt: skip
def test_anything_but_scheme_host_and_port_is_refused(url: str) -> None:
    with pytest.raises(PeerUnavailable):
        check_endpoint(url, allow_private=True)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8600", "http://10.1.2.3", "http://192.168.0.10", "http://172.16.5.4",
    "http://169.254.169.254", "http://[::1]:8600", "http://localhost:8600", "http://0.0.0.0",
    "http://[fd00::1]", "http://100.64.0.1",
])  # fmt: skip
def test_private_and_loopback_addresses_only_where_allowed(url: str) -> None:
    with pytest.raises(PeerUnavailable, match="private, loopback or reserved"):
        check_endpoint(url)
    assert check_endpoint(url, allow_private=True).startswith("http://")


class _Recording(BaseHTTPRequestHandler):
    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recording() -> Iterator[tuple[int, list[str]]]:
    seen: list[str] = []
    handler = type("Handler", (_Recording,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_an_endpoint_with_a_path_cannot_aim_a_node_at_another_url(
    recording: tuple[int, list[str]],
) -> None:
    port, seen = recording
    transport = HttpTransport(allow_private=True, allow_plain_http=True)  # even on a devnet
    for planted in (f"http://127.0.0.1:{port}/admin/delete?all=1&x=",
                    f"http://127.0.0.1:{port}?x=", f"http://x@127.0.0.1:{port}"):  # fmt: skip
        with pytest.raises(PeerUnavailable):
            transport.send(planted, Request("GET", "/blobs/abc"))
    assert transport.send(f"http://127.0.0.1:{port}", Request("GET", "/health")).ok
    assert seen == ["/health"]  # the planted URLs were never requested
    with pytest.raises(PeerUnavailable, match="private"):  # and a real node refuses 127.0.0.1
        HttpTransport().send(f"http://127.0.0.1:{port}", Request("GET", "/health"))
    assert seen == ["/health"]


class _Hostile:
    """A raw TCP peer that answers every request with a valid HTTP head, then a body of
    `size` bytes sent in chunks of `chunk` with `pause` seconds between them; it counts
    what it managed to send before the client hung up."""

    def __init__(self, size: int, chunk: int, pause: float) -> None:
        self.size, self.chunk, self.pause = size, chunk, pause
        self.sent = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        connection, _ = self._server.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               b"Connection: close\r\n\r\n")  # no length: read until closed
            block = b"x" * self.chunk
            try:
                while self.sent < self.size:
                    connection.sendall(block)
                    self.sent += len(block)
                    time.sleep(self.pause)
            except OSError:  # the client hung up
                pass
        self._done.set()

    def close(self) -> None:
        self._server.close()
        self._done.wait(timeout=30)
        self._thread.join(timeout=5)


def test_a_peer_dripping_its_answer_is_cut_off_at_the_deadline() -> None:
    drip = _Hostile(size=10_000, chunk=1, pause=0.2)  # would take over half an hour
    try:
        with pytest.raises(PeerUnavailable, match=r"took over 1\.0 s"):
            HttpTransport(timeout=5, deadline=1.0, allow_private=True, allow_plain_http=True).send(
                f"http://127.0.0.1:{drip.port}", Request("GET", "/blobs/x"))
    finally:
        drip.close()
    assert drip.sent < 100  # it was dropped early, not read to its end


def test_a_huge_answer_is_refused_past_the_cap() -> None:
    flood = _Hostile(size=300 * 2**20, chunk=2**16, pause=0)
    try:
        with pytest.raises(PeerUnavailable, match="more than 1048576 bytes"):
            HttpTransport(max_answer_bytes=2**20, allow_private=True, allow_plain_http=True).send(
                f"http://127.0.0.1:{flood.port}", Request("GET", "/blobs/x"))
    finally:
        flood.close()
    assert flood.sent < 32 * 2**20  # the rest of the 300 MiB was never taken in
