"""Signed JSON envelopes for node-to-node messages.

The signature is EIP-191 over the canonical JSON of every field but itself; the sender
is a DID whose address must be the signer. Receivers refuse stale and replayed ones.
"""

from __future__ import annotations

import json
import math
import secrets
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dain.identity import Identity, IdentityError, parse_did, recover_message_signer, sign_message
from dain.node.errors import EnvelopeError, TooManyMessages
from dain.node.nonces import MemoryNonces, NonceLimits, NonceStore, Remembered
from dain.node.transport import ENVELOPE_HEADER
from dain.storage import CodecError, canonical_json, parse_json

MAX_ENVELOPE_BYTES = 2**20  # a share message for a thousand neighbours is a few hundred kB
class MessageKind(StrEnum):
    UPDATE = "update"  # a plain update
    SHARES = "secagg-shares"  # secure round, stage 1: encrypted key shares
    MASKED = "secagg-input"  # stage 2: a masked update
    CHECK = "secagg-check"  # stage 3: a signature over the roster and survivor set
    UNMASK = "secagg-unmask"  # stage 4: the answer to the unmask request
    BLOB_GET = "blob-get"  # asks for a blob (in the request's envelope header)
    BLOB_PUT = "blob-put"  # sends a blob (likewise)
    METRICS = "metrics"  # a participant's signed metrics of a round's model (reports.py)
    METRICS_READ = "metrics-read"  # asks for a job's metrics (in the request's header)

    @property
    def secure(self) -> bool:
        return self in (MessageKind.SHARES, MessageKind.MASKED, MessageKind.CHECK,
                        MessageKind.UNMASK)  # fmt: skip


FIELDS = ("kind", "sender", "job_id", "round", "nonce", "timestamp", "body", "signature")
FUTURE_SECONDS = 30  # how far ahead of ours a sender's clock may run
MAX_NONCE_CHARS = 64  # seal() makes 32 hex characters


@dataclass(frozen=True)
class Envelope:
    kind: str
    sender: str
    job_id: int
    round: int
    nonce: str
    timestamp: int
    body: dict[str, Any]
    signature: bytes = field(default=b"", repr=False)

    def signing_bytes(self) -> bytes:
        return canonical_json(
            {
                "kind": self.kind,
                "sender": self.sender,
                "job_id": self.job_id,
                "round": self.round,
                "nonce": self.nonce,
                "timestamp": self.timestamp,
                "body": self.body,
            }
        )

    def to_bytes(self) -> bytes:
        raw = json.loads(self.signing_bytes())
        raw["signature"] = "0x" + self.signature.hex()
        return canonical_json(raw)

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        try:
            raw = parse_json(data, max_bytes=MAX_ENVELOPE_BYTES)
        except CodecError as exc:
            raise EnvelopeError(f"The message is not an envelope: {exc}") from exc
        if not isinstance(raw, dict) or set(raw) != set(FIELDS):
            raise EnvelopeError(f"An envelope has exactly the fields {', '.join(FIELDS)}.")
        try:
            envelope = cls(
                kind=_typed(raw, "kind", str),
                sender=_typed(raw, "sender", str),
                job_id=_typed(raw, "job_id", int),
                round=_typed(raw, "round", int),
                nonce=_typed(raw, "nonce", str),
                timestamp=_typed(raw, "timestamp", int),
                body=_typed(raw, "body", dict),
                signature=bytes.fromhex(_typed(raw, "signature", str).removeprefix("0x")),
            )
        except ValueError as exc:
            raise EnvelopeError(f"The envelope's signature is not hex ({exc}).") from exc
        # ids the contracts can hold: a number past them is a malformed message, not a bug
        if not (0 <= envelope.job_id < 2**64 and 0 <= envelope.round < 2**32
                and 0 <= envelope.timestamp < 2**40):  # fmt: skip
            raise EnvelopeError("The envelope's job, round or time is out of range.")
        if envelope.to_bytes() != data:
            raise EnvelopeError("The envelope is not in canonical JSON form.")
        # one encoding per signature: another v (e.g. EIP-155 style, >= 35) would recover
        # the same signer from a changed message
        if len(envelope.signature) != 65 or envelope.signature[64] not in (27, 28):
            raise EnvelopeError("The envelope's signature must be 65 bytes ending in v 27 or 28.")
        return envelope

    def signer_address(self, chain_id: int) -> str:
        """The verified sender address; refuses a DID of another chain or another signer."""
        try:
            did_chain, address = parse_did(self.sender)
            signer = recover_message_signer(self.signing_bytes(), self.signature)
        except IdentityError as exc:
            raise EnvelopeError(f"The envelope's sender or signature is invalid: {exc}") from exc
        if did_chain != chain_id:
            raise EnvelopeError(f"The sender belongs to chain {did_chain}, not {chain_id}.")
        if signer != address:
            raise EnvelopeError(
                f"The envelope claims to come from {address} but {signer} signed it."
            )
        return address


def _typed(raw: dict[str, Any], name: str, kind: type) -> Any:
    value = raw[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise EnvelopeError(f"Envelope field '{name}' must be {kind.__name__}.")
    return value


def seal(
    identity: Identity, chain_id: int, kind: str, job_id: int, round: int, body: dict[str, Any]
) -> Envelope:
    unsigned = Envelope(
        kind, identity.did(chain_id), job_id, round, secrets.token_hex(16), int(time.time()), body
    )
    return Envelope(
        unsigned.kind,
        unsigned.sender,
        unsigned.job_id,
        unsigned.round,
        unsigned.nonce,
        unsigned.timestamp,
        unsigned.body,
        sign_message(identity, unsigned.signing_bytes()),
    )


class ReplayGuard:
    """Refuses envelopes older than `max_age` seconds, from the future, or seen before.

    What it has seen lives in a `NonceStore`: in memory by default, in the node's state
    database for a node with a home, so a restart does not reopen the window for replays.
    Safe to share between the threads that handle requests: checking and remembering a
    nonce is one step in the store, so two copies of one envelope arriving at once cannot
    both pass. The store is bounded (see `dain.node.nonces`): past its limits a sender's
    new envelopes are refused as too many until older ones age out."""

    def __init__(
        self,
        store: NonceStore | None = None,
        max_age: int = 300,
        limits: NonceLimits | None = None,
    ) -> None:
        self.store: NonceStore = MemoryNonces() if store is None else store
        self.max_age = max_age
        self.limits = limits or NonceLimits()

    def check_fresh(self, envelope: Envelope, now: float | None = None) -> None:
        """Refuses a stale or future-dated envelope, or one whose nonce is not a short
        token; remembers nothing (so it can run before the checks that may refuse it)."""
        now = time.time() if now is None else now
        if envelope.timestamp < now - self.max_age:
            raise EnvelopeError("The envelope is stale; its sender's clock may be wrong.")
        if envelope.timestamp > now + FUTURE_SECONDS:
            raise EnvelopeError("The envelope is dated in the future; its sender's clock is wrong.")
        # every stored nonce costs memory or disk for five minutes: keep each one small
        if not 0 < len(envelope.nonce) <= MAX_NONCE_CHARS:
            raise EnvelopeError(f"The envelope's nonce must be 1 to {MAX_NONCE_CHARS} characters.")

    def check(self, envelope: Envelope, now: float | None = None) -> None:
        """`check_fresh`, then remembers the envelope, refusing it if it was seen before."""
        now = time.time() if now is None else now
        self.check_fresh(envelope, now)
        # forget exactly what check_fresh would now refuse as stale, and nothing fresher
        answer = self.store.remember_nonce(
            envelope.sender, envelope.nonce, envelope.timestamp,
            forget_before=math.ceil(now - self.max_age), limits=self.limits,
        )  # fmt: skip
        if answer is Remembered.SEEN:
            raise EnvelopeError("This envelope was already received (replay refused).")
        if answer is Remembered.FULL:
            raise TooManyMessages(
                f"This node has taken too many messages from {envelope.sender} (or from all "
                f"senders) in the last {self.max_age} seconds; send again later."
            )


def blob_request(identity: Identity, chain_id: int, cid: str, job_id: int) -> dict[str, str]:
    """The header that asks, signed as `identity`, for blob `cid` of a job: what a member
    outside a node process (a requester's script, say) sends with `GET /blobs/{cid}`."""
    signed = seal(identity, chain_id, MessageKind.BLOB_GET, job_id, 0, {"cid": cid})
    return {ENVELOPE_HEADER: signed.to_bytes().decode()}
