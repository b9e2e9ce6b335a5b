"""The client side of talking to other nodes: where a member's node answers, sending it a
message, asking it for a closed stage or a blob, and handing a blob to many at once.

A peer's HTTP status becomes a typed error here and nowhere else, so callers decide what
to do from the kind of failure (try again, ask later, give up), never from numbers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dain.costs import span
from dain.errors import DainError
from dain.node.envelope import MessageKind
from dain.node.errors import (
    PeerConflict,
    PeerError,
    PeerNotReady,
    PeerRefused,
    PeerUnavailable,
)
from dain.node.transport import ENVELOPE_HEADER, Contact, Request, Response, Transport
from dain.storage import BlobStore, CodecError, StorageError, cid_of, parse_json, verify

log = logging.getLogger(__name__)

NOT_READY = 425  # "too early": what was asked for does not exist yet
CONFLICT = 409  # the peer's view of the round differs from the sender's
TOO_MANY = 429  # the peer takes no more messages from us for a while
MAX_ANSWER_JSON_BYTES = 16 * 2**20  # a closed roster of a thousand share messages fits
# signs (kind, job, round, body) as this node: what a blob request carries in its header
Signer = Callable[[MessageKind, int, int, dict[str, Any]], bytes]


def refusal(endpoint: str, path: str, response: Response) -> PeerError:
    """The error a peer's non-2xx answer stands for."""
    reason = _reason(response) or f"status {response.status}"
    message = f"{endpoint} refused {path}: {reason}"
    kind: type[PeerError]
    if response.status in (NOT_READY, TOO_MANY):  # ask again later
        kind = PeerNotReady
    elif response.status == CONFLICT:
        kind = PeerConflict
    elif 400 <= response.status < 500 and response.status != 404:
        kind = PeerRefused
    else:  # 404 (an older or other program), 5xx: it may answer later, or another may
        kind = PeerUnavailable
    return kind(message, peer_status=response.status)


def _reason(response: Response) -> str:
    try:
        payload = parse_json(response.body, max_bytes=MAX_ANSWER_JSON_BYTES)
    except CodecError:
        return ""
    return str(payload.get("error", ""))[:300] if isinstance(payload, dict) else ""


class Peers:
    """Talks to members' nodes through `transport`; `lookup` reads a member's endpoint and
    TLS certificate fingerprint from the registry (remembered until a request to it fails:
    it may have moved, or changed its certificate)."""

    def __init__(
        self,
        me: str,
        transport: Transport,
        blobs: BlobStore,
        lookup: Callable[[str], Contact],
        sign: Signer,
    ) -> None:
        self.me = me
        self.transport = transport
        self._blobs = blobs
        self._lookup = lookup
        self._sign = sign
        self._contacts: dict[str, Contact] = {}
        self._lock = threading.Lock()

    def contact_of(self, address: str) -> Contact:
        with self._lock:
            found = self._contacts.get(address)
        if found is None:
            found = self._lookup(address)
            with self._lock:
                self._contacts[address] = found
        return found

    def _send(self, address: str, request: Request) -> tuple[str, Response]:
        contact = self.contact_of(address)
        try:
            with span("http"):  # every request to a peer passes here, on either transport
                return contact.endpoint, self.transport.send(
                    contact.endpoint, request, contact.tls_fingerprint
                )
        except PeerError:
            with self._lock:
                self._contacts.pop(address, None)  # look it up again next time
            raise

    def post(
        self, address: str, path: str, body: bytes, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Sends `body`; the peer's JSON answer, or the PeerError its refusal stands for."""
        endpoint, response = self._send(address, Request("POST", path, body, headers or {}))
        if not response.ok:
            raise refusal(endpoint, path, response)
        return _json_object(endpoint, path, response)

    def get(self, address: str, path: str) -> dict[str, Any]:
        """The peer's JSON answer to a GET; PeerNotReady while it has none yet."""
        endpoint, response = self._send(address, Request("GET", path))
        if not response.ok:
            raise refusal(endpoint, path, response)
        return _json_object(endpoint, path, response)

    def put_blob(self, address: str, blob: bytes, kind: str, job_id: int, round: int) -> str:
        """Sends a blob for the sender's role in a job, in a request it signs."""
        cid = cid_of(blob)
        signed = self._sign(MessageKind.BLOB_PUT, job_id, round, {"cid": cid, "kind": kind})
        self.post(address, "/blobs", blob, {ENVELOPE_HEADER: signed.decode()})
        return cid

    def fetch_blob(self, cid: str, holders: Iterable[str], job_id: int = 0) -> bytes:
        """The blob with content id `cid`, from this node's store or the first of `holders`
        that has it and lets this node read it (each asked in a request signed for the
        job); what arrives is checked against the content id, and not kept here: the
        caller keeps it as what it is."""
        if self._blobs.has(cid):
            return self._blobs.get(cid)
        for address in holders:
            if address == self.me:
                continue
            signed = self._sign(MessageKind.BLOB_GET, job_id, 0, {"cid": cid})
            request = Request("GET", f"/blobs/{cid}", headers={ENVELOPE_HEADER: signed.decode()})
            try:
                endpoint, response = self._send(address, request)
            except DainError:  # unreachable, or not a member any more: ask the next one
                continue
            if not response.ok:
                continue
            try:
                verify(cid, response.body)
            except StorageError as exc:
                log.warning("peer %s sent a corrupt blob: %s", endpoint, exc)
                continue
            return response.body
        raise PeerUnavailable(f"No peer could provide blob {cid}.")

    def hand_out(
        self, blob: bytes, addresses: Iterable[str], kind: str, job_id: int, round: int
    ) -> None:
        """Sends `blob` to every address but this node's, all at once, so one slow peer
        costs one timeout, not several; a peer that is down fetches it later."""

        def hand(address: str) -> None:
            try:
                self.put_blob(address, blob, kind, job_id, round)
            except DainError as exc:
                log.info("could not hand a blob to %s: %s", address, exc)

        others = sorted(set(addresses) - {self.me})
        if others:  # the pool's threads count nothing (dain.costs): here the whole wait does
            with span("http"), ThreadPoolExecutor(max_workers=len(others)) as pool:
                list(pool.map(hand, others))


def _json_object(endpoint: str, path: str, response: Response) -> dict[str, Any]:
    try:
        payload = parse_json(response.body or b"{}", max_bytes=MAX_ANSWER_JSON_BYTES)
    except CodecError as exc:
        raise PeerUnavailable(f"{endpoint} answered {path} with non-JSON ({exc}).") from None
    if not isinstance(payload, dict):
        raise PeerUnavailable(f"{endpoint} answered {path} with JSON that is not an object.")
    return payload
