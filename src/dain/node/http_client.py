"""The client side of the node API: an httpx transport that talks to peers over HTTPS, only
to the certificate each peer's member published on chain (`dain.node.pinning`), and within
bounds (`dain.node.endpoints`, answer size, time). It carries exactly the bytes the
in-memory transport carries."""

from __future__ import annotations

import threading
import time

import httpx

from dain.node.endpoints import check_endpoint
from dain.node.errors import PeerUnavailable
from dain.node.pinning import pinned_context, refused_certificate
from dain.node.transport import Request, Response


class HttpTransport:
    """Talks to peers over HTTPS within bounds, so no peer can hold a node: each read waits
    at most `timeout` seconds, a whole exchange at most `deadline` (a peer dripping one
    byte at a time is cut off), an answer holds at most `max_answer_bytes`, and only
    endpoints `check_endpoint` accepts are contacted (no private addresses unless
    `allow_private`).

    An https peer is reached only if it presents the certificate its member published on
    chain (`tls_fingerprint`), checked before any request is written. Plain http peers,
    and https peers whose member published no fingerprint, prove nothing about who
    answers; they are refused unless `allow_plain_http` (then an unpinned https peer gets
    TLS that keeps out eavesdroppers but checks no certificate: no worse than plain http,
    which that setting accepts already)."""

    def __init__(
        self,
        timeout: float = 5.0,
        *,
        deadline: float = 20.0,
        max_answer_bytes: int = 17 * 2**20,
        allow_private: bool = False,
        allow_plain_http: bool = False,
    ) -> None:
        self.timeout = timeout
        self.deadline = deadline
        self.max_answer_bytes = max_answer_bytes
        self.allow_private = allow_private
        self.allow_plain_http = allow_plain_http
        self.bytes_sent = 0  # request bodies, for measuring the protocol's traffic
        self._lock = threading.Lock()  # several rounds' hand-outs go out at once
        self._checked: dict[str, str] = {}  # endpoint -> its checked form
        # checked endpoint -> (the fingerprint it was pinned to, a client trusting only that)
        self._pinned: dict[str, tuple[bytes, httpx.Client]] = {}
        self._unpinned: httpx.Client | None = None  # plain http, if allowed

    def _base(self, endpoint: str) -> str:
        with self._lock:
            found = self._checked.get(endpoint)
        if found is None:
            found = check_endpoint(endpoint, allow_private=self.allow_private)
            with self._lock:
                self._checked[endpoint] = found
        return found

    def send(self, endpoint: str, request: Request, tls_fingerprint: bytes = b"") -> Response:
        give_up = time.monotonic() + self.deadline
        base = self._base(endpoint)
        client = self._client(endpoint, base, tls_fingerprint, give_up)
        with self._lock:
            self.bytes_sent += len(request.body)
        try:
            with client.stream(request.method, base + request.path, content=request.body or None,
                               headers=request.headers) as answer:  # fmt: skip
                body = self._read(endpoint, request.path, answer, give_up)
        except httpx.HTTPError as exc:
            if refused_certificate(exc):  # another certificate since it was pinned
                self._forget(base)
                raise PeerUnavailable(
                    f"{endpoint} no longer presents the TLS certificate its member published "
                    "on chain; the handshake refused it and nothing was sent to it."
                ) from exc
            raise PeerUnavailable(
                f"{endpoint} did not answer {request.path} ({type(exc).__name__})."
            ) from exc
        return Response(answer.status_code, body, answer.headers.get("content-type", ""))

    def _client(
        self, endpoint: str, base: str, tls_fingerprint: bytes, give_up: float
    ) -> httpx.Client:
        """The client that reaches `base` as the chain says it may be reached."""
        if base.startswith("https://") and tls_fingerprint:
            return self._pinned_client(base, tls_fingerprint, give_up)
        if not self.allow_plain_http:
            what = ("is plain http" if base.startswith("http://") else
                    "is https, but its member published no TLS certificate fingerprint on chain")
            raise PeerUnavailable(
                f"The endpoint {endpoint} {what}, so nothing proves who answers there; this "
                "node talks to such peers only when its settings allow it "
                "(allow_plain_http_peers)."
            )  # fmt: skip
        with self._lock:
            if self._unpinned is None:
                # verify=False only here: this setting accepts peers nothing authenticates
                self._unpinned = httpx.Client(timeout=self.timeout, follow_redirects=False,
                                              verify=False, trust_env=False)  # fmt: skip
            return self._unpinned

    def _pinned_client(self, base: str, tls_fingerprint: bytes, give_up: float) -> httpx.Client:
        with self._lock:
            found = self._pinned.get(base)
        if found is not None and found[0] == tls_fingerprint:
            return found[1]
        wait = min(self.timeout, max(0.0, give_up - time.monotonic()))
        context = pinned_context(base, tls_fingerprint, wait)  # PeerUnavailable if not it
        # trust_env=False: straight to the address checked and pinned, never through a
        # proxy named in the environment
        client = httpx.Client(timeout=self.timeout, follow_redirects=False, verify=context,
                              trust_env=False)  # fmt: skip
        with self._lock:
            # one entry per endpoint: a new fingerprint (a new certificate) replaces the old
            replaced = self._pinned.get(base)
            self._pinned[base] = (tls_fingerprint, client)
        if replaced is not None:
            replaced[1].close()
        return client

    def _forget(self, base: str) -> None:
        with self._lock:
            found = self._pinned.pop(base, None)
        if found is not None:
            found[1].close()

    def _read(self, endpoint: str, path: str, answer: httpx.Response, give_up: float) -> bytes:
        declared = answer.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_answer_bytes:
            raise PeerUnavailable(f"{endpoint} answered {path} with more than "
                                  f"{self.max_answer_bytes} bytes.")  # fmt: skip
        body = bytearray()
        for chunk in answer.iter_bytes():
            body += chunk
            if len(body) > self.max_answer_bytes:
                raise PeerUnavailable(f"{endpoint} answered {path} with more than "
                                      f"{self.max_answer_bytes} bytes.")  # fmt: skip
            if time.monotonic() > give_up:
                raise PeerUnavailable(f"{endpoint} took over {self.deadline} s to answer {path}.")
        return bytes(body)

    def close(self) -> None:
        with self._lock:
            clients = [client for _, client in self._pinned.values()]
            clients += [self._unpinned] if self._unpinned is not None else []
            self._pinned.clear()
            self._unpinned = None
        for client in clients:
            client.close()
