"""Talking HTTPS only to the certificate a member published on chain.

Python's ssl cannot check a certificate against a pin by itself, so a pin takes two steps:

1. `pinned_context` opens a TLS handshake that verifies nothing and sends nothing after it
   (no request), reads the certificate the server presents, and compares its SHA-256 with
   the fingerprint the chain holds. A different certificate ends it there.
2. If they match, every connection to that peer goes through a context that trusts
   exactly that certificate (`dain.node.tls.trusting`): no certificate authority, no other
   certificate. So OpenSSL itself refuses, inside the handshake and before the client
   writes a byte of its request, any server presenting another certificate, one swapped in
   after step 1 included.

An impostor at a member's endpoint therefore sees a TLS ClientHello at most, never a
request, an envelope or an update. The host name is not checked: the pinned certificate,
not a name, says which member answers.

For clients outside a node (a requester's script, the devnet's orchestrator, `dain node
status`), `pinned_client` and `home_client` make httpx clients on the same contexts; none
of them turns verification off.
"""

from __future__ import annotations

import select
import socket
import ssl
import time
from urllib.parse import urlsplit

import httpx

from dain.node.endpoints import check_endpoint
from dain.node.errors import PeerUnavailable
from dain.node.home import NodeHome
from dain.node.tls import certificate_der, fingerprint, trusting


def pinned_context(endpoint: str, tls_fingerprint: bytes, timeout: float) -> ssl.SSLContext:
    """A context that trusts only the certificate the server at `endpoint` (an https
    scheme://host:port) presents, if its SHA-256 is `tls_fingerprint`; PeerUnavailable
    names the mismatch otherwise. Takes at most `timeout` seconds."""
    parts = urlsplit(endpoint)
    host, port = parts.hostname or "", parts.port or 443
    try:
        der = presented_certificate(host, port, timeout)
    except (OSError, ValueError) as exc:  # refused, timed out, not TLS at all
        raise PeerUnavailable(
            f"{endpoint} did not complete a TLS handshake ({type(exc).__name__}: {exc})."
        ) from None
    found = fingerprint(der)
    if found != tls_fingerprint:
        raise PeerUnavailable(
            f"{endpoint} presented a TLS certificate with SHA-256 {found.hex()[:16]}..., not "
            f"the {tls_fingerprint.hex()[:16]}... its member published on chain: it is not "
            "that member's node, or the node changed its certificate without registering "
            "it again. Nothing was sent to it."
        )
    return trusting(der)


def presented_certificate(host: str, port: int, timeout: float) -> bytes:
    """The DER certificate a TLS server at host:port presents. The handshake checks
    nothing (the caller checks the certificate against its pin) and nothing is sent after
    it; the whole exchange takes at most `timeout` seconds, however slowly the server
    drips its handshake."""
    give_up = time.monotonic() + timeout
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only read here: compared with the pin after
    with socket.create_connection((host, port), timeout=timeout) as raw:
        raw.setblocking(False)
        with context.wrap_socket(raw, server_hostname=host or None,
                                 do_handshake_on_connect=False) as tls:  # fmt: skip
            while True:
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    ready = select.select([tls], [], [], max(0.0, give_up - time.monotonic()))
                except ssl.SSLWantWriteError:
                    ready = select.select([], [tls], [], max(0.0, give_up - time.monotonic()))
                if not any(ready):
                    raise TimeoutError(f"no TLS handshake within {timeout} s")
            der = tls.getpeercert(binary_form=True)
    if not der:
        raise ValueError("the server presented no certificate")
    return der


def refused_certificate(exc: BaseException) -> bool:
    """Whether an httpx error stands for a handshake that refused the server's certificate
    (httpx wraps the ssl error it met)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def pinned_client(endpoint: str, tls_fingerprint: bytes, timeout: float = 10.0) -> httpx.Client:
    """An httpx client for the node at `endpoint` (https) that talks to it only if it
    presents the certificate whose SHA-256 is `tls_fingerprint`, as its member published
    on chain (`ledger.registry.member(address)`). For clients outside a node, such as a
    requester reading the models of its job; relative URLs start at the endpoint."""
    base = check_endpoint(endpoint, allow_private=True)  # the caller's own choice of peer
    if not base.startswith("https://"):
        raise PeerUnavailable(f"{endpoint} is not an https endpoint; nothing proves who answers.")
    if not tls_fingerprint:
        raise PeerUnavailable(
            f"The member at {endpoint} published no TLS certificate fingerprint on chain; "
            "nothing proves who answers there."
        )
    context = pinned_context(base, tls_fingerprint, timeout)
    # trust_env=False: to the server whose certificate was just read, not through a proxy
    return httpx.Client(base_url=base, verify=context, timeout=timeout, follow_redirects=False,
                        trust_env=False)  # fmt: skip


def home_client(home: NodeHome, timeout: float = 10.0) -> httpx.Client:
    """An httpx client for the node of `home`, trusting the certificate in that home (the
    operator's own node: nothing to look up on chain). Relative URLs start at its
    endpoint; a node that serves plain HTTP (tls = false) is reached in plain HTTP."""
    config = home.config()
    verify: ssl.SSLContext | bool = True
    if config.tls:
        verify = trusting(certificate_der(home.tls_certificate))
    return httpx.Client(base_url=config.endpoint, verify=verify, timeout=timeout,
                        follow_redirects=False, trust_env=False)  # fmt: skip
