"""Transports carry requests between nodes. A handler maps a Request to a Response; the
in-memory transport calls it directly, the HTTP transport (`dain.node.http_client`) carries
the same bytes over HTTPS to the certificate the peer's member published on chain."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from dain.node.errors import PeerUnavailable

ENVELOPE_HEADER = "x-dain-envelope"  # a signed envelope that authorizes a blob request


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes = b""
    # header names in lower case; only ENVELOPE_HEADER is carried between nodes
    headers: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def envelope(self) -> bytes:
        return self.headers.get(ENVELOPE_HEADER, "").encode()


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class Contact:
    """How to reach a member's node, as its member published it on chain: the endpoint,
    and the SHA-256 of the TLS certificate that node answers with (b"" for none)."""

    endpoint: str
    tls_fingerprint: bytes = b""


Handler = Callable[[Request], Response]


class Transport(Protocol):
    def send(self, endpoint: str, request: Request, tls_fingerprint: bytes = b"") -> Response:
        """The peer's answer; a transport over a network talks only to the certificate
        `tls_fingerprint` names."""
        ...


@dataclass(frozen=True)
class Carried:
    """One exchange as it crossed the transport, kept for inspection."""

    endpoint: str
    request: Request
    response: Response


class InMemoryTransport:
    """Nodes in one process: endpoints like ``mem://hospital-a`` map to node handlers.
    With `record=True` it keeps every exchange, so tests can check what crossed it."""

    def __init__(self, *, record: bool = False) -> None:
        self._handlers: dict[str, Handler] = {}
        self.record = record
        self.carried: list[Carried] = []

    def register(self, endpoint: str, handler: Handler) -> None:
        self._handlers[endpoint] = handler

    def unregister(self, endpoint: str) -> None:
        self._handlers.pop(endpoint, None)

    def send(self, endpoint: str, request: Request, tls_fingerprint: bytes = b"") -> Response:
        # in one process there is no TLS to pin: a handler is reached only by its endpoint
        handler = self._handlers.get(endpoint)
        if handler is None:
            raise PeerUnavailable(f"No node answers at {endpoint}.")
        response = handler(request)
        if self.record:
            self.carried.append(Carried(endpoint, request, response))
        return response
