"""Nodes talk HTTPS, only to the certificate a member published on chain (issue 11, finding
5), written as the attacks: an impostor with a certificate of its own at a member's
endpoint, a certificate swapped in after the check, a member that published no
fingerprint, a plain http endpoint, a peer dripping its handshake. Real TLS servers on
127.0.0.1; an impostor must not receive a single byte of a request."""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from dain.errors import ConfigError
from dain.node import (
    HttpTransport,
    Node,
    NodeConfig,
    NodeHome,
    PeerUnavailable,
    Request,
    home_client,
    pinned_client,
)
from dain.node.tls import certificate_der, create_certificate, fingerprint
from dain.storage import MemoryBlobStore
from tests.conftest import ChainNet
from tests.node.tls_peer import TlsPeer

UPDATE = b'{"masked update": "not for strangers"}'


class Certificate:
    def __init__(self, folder: Path, name: str) -> None:
        self.key, self.file = folder / f"{name}.key", folder / f"{name}.crt"
        self.fingerprint = create_certificate(self.key, self.file, "127.0.0.1", name)


@pytest.fixture
def honest(tmp_path: Path) -> Certificate:
    return Certificate(tmp_path, "honest")


@pytest.fixture
def impostor(tmp_path: Path) -> Certificate:
    return Certificate(tmp_path, "impostor")


@pytest.fixture
def serving(honest: Certificate) -> Iterator[TlsPeer]:
    peer = TlsPeer(honest.key, honest.file)
    yield peer
    peer.close()


@pytest.fixture
def impostor_serving(impostor: Certificate) -> Iterator[TlsPeer]:
    peer = TlsPeer(impostor.key, impostor.file)
    yield peer
    peer.close()


def _post() -> Request:
    return Request("POST", "/updates", UPDATE)


# ---- the node's home ---------------------------------------------------------------


def test_init_makes_a_key_only_the_owner_reads_and_a_certificate_for_the_node_host(
    tmp_path: Path,
) -> None:
    home = NodeHome(tmp_path / "node")
    config = NodeConfig(name="st-mary", host="127.0.0.1", port=8611)

    home.init(config, "a password", scrypt_n=2**4)

    assert config.endpoint == "https://127.0.0.1:8611"
    assert stat.S_IMODE(home.tls_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.root.stat().st_mode) == 0o700
    certificate = x509.load_pem_x509_certificate(home.tls_certificate.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert isinstance(certificate.public_key(), ec.EllipticCurvePublicKey)
    assert certificate.public_key().curve.name == "secp256r1"
    der = certificate_der(home.tls_certificate)
    assert home.tls_fingerprint(config) == hashlib.sha256(der).digest() == fingerprint(der)


def test_a_named_host_is_the_certificate_dns_name(tmp_path: Path) -> None:
    cert = tmp_path / "n.crt"
    create_certificate(tmp_path / "n.key", cert, "node.example.org", "n")

    names = x509.load_pem_x509_certificate(cert.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value  # fmt: skip
    assert names.get_values_for_type(x509.DNSName) == ["node.example.org"]


def test_an_existing_key_is_never_replaced(honest: Certificate) -> None:
    with pytest.raises(ConfigError, match="does not replace a TLS key"):
        create_certificate(honest.key, honest.file, "127.0.0.1", "again")


def test_a_home_made_before_tls_gets_its_certificate_when_asked(tmp_path: Path) -> None:
    home = NodeHome(tmp_path / "old")
    config = NodeConfig(name="old", tls=False)
    home.init(config, "a password", scrypt_n=2**4)
    assert not home.tls_certificate.exists() and config.endpoint.startswith("http://")

    made = home.tls_fingerprint(config)  # as `dain node start` does

    assert made == fingerprint(certificate_der(home.tls_certificate))
    assert stat.S_IMODE(home.tls_key.stat().st_mode) == 0o600
    assert home.tls_fingerprint(config) == made  # made once, then read


def test_a_certificate_without_its_key_is_named(tmp_path: Path) -> None:
    home = NodeHome(tmp_path / "node")
    config = NodeConfig(name="n")
    home.init(config, "a password", scrypt_n=2**4)
    home.tls_key.unlink()

    with pytest.raises(ConfigError, match="has no key beside it"):
        home.tls_fingerprint(config)


# ---- pinning -----------------------------------------------------------------------


def test_the_certificate_the_chain_names_is_talked_to(
    honest: Certificate, serving: TlsPeer
) -> None:
    transport = HttpTransport(allow_private=True)

    answer = transport.send(serving.endpoint, _post(), honest.fingerprint)
    again = transport.send(serving.endpoint, _post(), honest.fingerprint)  # pinned context kept

    assert answer.ok and again.ok
    serving.close()
    assert len(serving.received) == 2 and all(UPDATE in r for r in serving.received)


def test_an_impostor_with_another_certificate_gets_no_request(
    honest: Certificate, impostor_serving: TlsPeer
) -> None:
    transport = HttpTransport(allow_private=True)

    with pytest.raises(PeerUnavailable) as refused:
        transport.send(impostor_serving.endpoint, _post(), honest.fingerprint)

    message = str(refused.value)
    assert "presented a TLS certificate with SHA-256" in message
    assert honest.fingerprint.hex()[:16] in message and "published on chain" in message
    impostor_serving.close()
    assert impostor_serving.handshakes >= 1  # it was asked for its certificate ...
    assert impostor_serving.received == []  # ... and got not one byte of a request


def test_a_certificate_swapped_in_after_the_check_is_refused_in_the_handshake(
    honest: Certificate, impostor: Certificate, serving: TlsPeer
) -> None:
    transport = HttpTransport(allow_private=True)
    assert transport.send(serving.endpoint, _post(), honest.fingerprint).ok  # pinned
    port = serving.port
    serving.close()
    swapped = TlsPeer(impostor.key, impostor.file, port)  # same address, other certificate
    try:
        with pytest.raises(PeerUnavailable, match="no longer presents the TLS certificate"):
            transport.send(swapped.endpoint, _post(), honest.fingerprint)
        with pytest.raises(PeerUnavailable, match="presented a TLS certificate with SHA-256"):
            transport.send(swapped.endpoint, _post(), honest.fingerprint)  # checked afresh
    finally:
        swapped.close()
    assert swapped.connections >= 2 and swapped.received == []


def test_a_new_fingerprint_on_chain_pins_the_new_certificate(
    honest: Certificate, impostor: Certificate, serving: TlsPeer
) -> None:
    # the member replaced its certificate and registered the new one: the old pin goes
    transport = HttpTransport(allow_private=True)
    assert transport.send(serving.endpoint, _post(), honest.fingerprint).ok
    port = serving.port
    serving.close()
    renewed = TlsPeer(impostor.key, impostor.file, port)
    try:
        assert transport.send(renewed.endpoint, _post(), impostor.fingerprint).ok
    finally:
        renewed.close()


def test_https_without_a_published_fingerprint_is_refused_unless_plain_is_allowed(
    serving: TlsPeer,
) -> None:
    with pytest.raises(PeerUnavailable, match="published no TLS certificate fingerprint"):
        HttpTransport(allow_private=True).send(serving.endpoint, _post())
    assert serving.connections == 0  # refused before connecting

    # a node allowing unauthenticated peers gets TLS that keeps out eavesdroppers only
    lax = HttpTransport(allow_private=True, allow_plain_http=True)
    assert lax.send(serving.endpoint, _post()).ok


def test_plain_http_is_refused_unless_allowed() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(PeerUnavailable, match=r"is plain http.*allow_plain_http_peers"):
            HttpTransport(allow_private=True).send(endpoint, _post())
        listener.settimeout(0.2)
        with pytest.raises(TimeoutError):
            listener.accept()  # never connected to
    finally:
        listener.close()


def test_a_server_that_is_not_tls_fails_the_check(honest: Certificate) -> None:
    listener = socket.create_server(("127.0.0.1", 0))

    def answer_in_plain() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(4096)
            connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=answer_in_plain, daemon=True)
    thread.start()
    try:
        with pytest.raises(PeerUnavailable, match="did not complete a TLS handshake"):
            HttpTransport(allow_private=True).send(
                f"https://127.0.0.1:{listener.getsockname()[1]}", _post(), honest.fingerprint)
    finally:
        thread.join(timeout=5)
        listener.close()


class _DripRelay:
    """Relays to `target`, passing the server's bytes on one at a time every `pause`."""

    def __init__(self, target: int, pause: float) -> None:
        self.target, self.pause = target, pause
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._relay, daemon=True)
        self._thread.start()

    def _relay(self) -> None:
        client, _ = self._server.accept()
        upstream = socket.create_connection(("127.0.0.1", self.target))
        with client, upstream:
            upstream.sendall(client.recv(65536))  # the ClientHello, at once
            upstream.settimeout(1)
            while not self._stop.is_set():
                try:
                    byte = upstream.recv(1)
                    if not byte:
                        return
                    client.sendall(byte)
                except OSError:
                    return
                time.sleep(self.pause)

    def close(self) -> None:
        self._stop.set()
        self._server.close()
        self._thread.join(timeout=5)


def test_a_peer_dripping_its_handshake_is_cut_off(honest: Certificate, serving: TlsPeer) -> None:
    drip = _DripRelay(serving.port, pause=0.05)  # a handshake of ~1 kB: a minute
    try:
        started = time.monotonic()
        with pytest.raises(PeerUnavailable, match="did not complete a TLS handshake"):
            HttpTransport(timeout=1.0, deadline=2.0, allow_private=True).send(
                f"https://127.0.0.1:{drip.port}", _post(), honest.fingerprint)
        assert time.monotonic() - started < 3
    finally:
        drip.close()


# ---- clients outside a node ----------------------------------------------------------


def test_a_pinned_client_reaches_the_named_certificate_and_no_other(
    honest: Certificate, serving: TlsPeer, impostor_serving: TlsPeer
) -> None:
    with pinned_client(serving.endpoint, honest.fingerprint) as client:
        assert client.post("/updates", content=UPDATE).status_code == 200
    with pytest.raises(PeerUnavailable, match="presented a TLS certificate"):
        pinned_client(impostor_serving.endpoint, honest.fingerprint)
    with pytest.raises(PeerUnavailable, match="published no TLS certificate fingerprint"):
        pinned_client(serving.endpoint, b"")
    with pytest.raises(PeerUnavailable, match="not an https endpoint"):
        pinned_client(f"http://127.0.0.1:{serving.port}", honest.fingerprint)
    impostor_serving.close()
    assert impostor_serving.received == []


def test_a_home_client_trusts_its_own_certificate_only(
    tmp_path: Path, impostor: Certificate
) -> None:
    home = NodeHome(tmp_path / "node")
    impostor_peer = TlsPeer(impostor.key, impostor.file)
    try:
        home.init(NodeConfig(name="n", port=impostor_peer.port), "a password", scrypt_n=2**4)
        with home_client(home, timeout=2) as client, pytest.raises(
            httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"
        ):
            client.get("/status")  # something else answers at the node's own port
    finally:
        impostor_peer.close()
    assert impostor_peer.received == []


# ---- through the chain ---------------------------------------------------------------


@pytest.mark.parametrize("chain", ["embedded"], indirect=True)
def test_a_node_refuses_an_impostor_at_a_member_endpoint_by_the_chain_fingerprint(
    chain_net: ChainNet, honest: Certificate, serving: TlsPeer, impostor_serving: TlsPeer
) -> None:
    member, other = chain_net.member(), chain_net.member()
    # the member publishes its real certificate; someone else answers at its address
    member.registry.register(impostor_serving.endpoint, b"", honest.fingerprint)
    other.registry.register(serving.endpoint, b"", honest.fingerprint)
    watcher = chain_net.member()
    node = Node("watcher", watcher, MemoryBlobStore(), HttpTransport(allow_private=True),
                "https://127.0.0.1:1")  # fmt: skip

    with pytest.raises(PeerUnavailable, match=r"not the [0-9a-f]{16}\.\.\. its member published"):
        node.peers.post(member.address, "/updates", UPDATE)
    assert node.peers.post(other.address, "/updates", UPDATE) == {}

    impostor_serving.close()
    serving.close()
    assert impostor_serving.received == []
    assert len(serving.received) == 1 and UPDATE in serving.received[0]
