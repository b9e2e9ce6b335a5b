"""Every check a round message passes at its aggregator, written once for plain and secure
rounds: a fresh envelope of the right kind, signed by a member who owns an enrolled asset
with live consent, for a round this node was elected to aggregate; and, for an update, a
receipt its owner signed over exactly that update."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dain.costs import belongs_to
from dain.data import format_asset_id
from dain.ledger import Consent, JobInfo, JobStatus, Receipt
from dain.node.context import NodeContext
from dain.node.envelope import Envelope, MessageKind, ReplayGuard
from dain.node.errors import EnvelopeError, ProtocolError
from dain.node.nonces import NonceStore
from dain.storage import content_hash


@dataclass(frozen=True)
class Incoming:
    """A message that passed every check: who sent it, for which job, round and asset."""

    envelope: Envelope
    sender: str
    job: JobInfo
    asset_id: int

    @property
    def round(self) -> int:
        return self.envelope.round


@dataclass(frozen=True)
class UpdateFields:
    """What an update message (plain or masked) names besides its asset."""

    update_cid: str
    num_examples: int
    receipt_signature: bytes

    def to_body(self, asset_id: int) -> dict[str, Any]:
        return {
            "asset_id": str(asset_id),
            "update_cid": self.update_cid,
            "num_examples": self.num_examples,
            "receipt_signature": "0x" + self.receipt_signature.hex(),
        }

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> UpdateFields:
        try:
            fields = cls(
                str(body["update_cid"]),
                int(body["num_examples"]),
                bytes.fromhex(str(body["receipt_signature"]).removeprefix("0x")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"The update message is malformed ({exc!r}).") from exc
        if not 0 < fields.num_examples < 2**32:
            raise ProtocolError("num_examples must be a positive 32-bit number.")
        return fields


class Intake:
    def __init__(self, ctx: NodeContext, nonces: NonceStore | None = None) -> None:
        self.ctx = ctx
        self.guard = ReplayGuard(nonces)

    def signed(self, body: bytes, kind: MessageKind) -> tuple[Envelope, str]:
        """A fresh envelope of `kind` from a member, and who sent it; what it asks is the
        caller's to judge. Its nonce is remembered at once: a request to read or store a
        blob is answered in full or not at all."""
        if not body:
            raise EnvelopeError("The request carries no signed envelope saying who asks.")
        envelope, sender = self._from_member(body, kind)
        self.guard.check(envelope)
        return envelope, sender

    def _from_member(self, body: bytes, kind: MessageKind) -> tuple[Envelope, str]:
        envelope = Envelope.from_bytes(body)
        if envelope.round:  # a request's work counts for the round it names (dain.costs)
            belongs_to(f"{envelope.job_id}/{envelope.round}")
        sender = envelope.signer_address(self.ctx.ledger.chain_id)
        self.guard.check_fresh(envelope)
        if envelope.kind != kind:
            raise ProtocolError(f"Expected a '{kind}' message, got a '{envelope.kind}' one.")
        if not self.ctx.chain.is_member(sender):
            raise EnvelopeError(f"{sender} is not a registered member.")
        return envelope, sender

    def check(self, body: bytes, kind: MessageKind) -> Incoming:
        """The message in `body` if it passes every check; else the error that says why."""
        ctx, chain = self.ctx, self.ctx.chain
        envelope, sender = self._from_member(body, kind)
        job = chain.job_for_round(envelope.job_id, envelope.round)
        round = envelope.round
        if job.status != JobStatus.RUNNING or round != job.current_round + 1:
            raise ProtocolError(f"Job {job.job_id} is not collecting updates for round {round}.")
        if job.secure_aggregation != kind.secure:
            raise ProtocolError(
                f"Job {job.job_id} takes "
                + ("masked updates only." if job.secure_aggregation else "plain updates only.")
            )
        if chain.aggregator(job.job_id, round) != ctx.address:
            raise ProtocolError(
                f"This node is not the aggregator of job {job.job_id}, round {round}."
            )
        try:
            asset_id = int(envelope.body["asset_id"])
            named = format_asset_id(asset_id)  # refuses a negative or over-wide number
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"The message names no asset ({exc!r}).") from exc
        if asset_id not in chain.enrolled(job):
            raise ProtocolError(f"Asset {named} is not enrolled in job {job.job_id}.")
        if not chain.sample(job, round, [asset_id]):
            raise ProtocolError(f"Asset {named} is not in round {round}'s sample of job "
                                f"{job.job_id}.")  # fmt: skip
        if chain.owners(job).get(asset_id) != sender:
            raise ProtocolError(f"{sender} does not own asset {named}.")
        # answering an unmask request uses no data: only the shares others gave this node
        if kind != MessageKind.UNMASK and chain.consent(job, asset_id) is not Consent.ALLOWED:
            raise ProtocolError(f"Asset {named} has no live consent for '{job.purpose}'.")
        # remembered last: only a message that passed every check takes room in the store,
        # so strangers, and members retrying a round not yet open, cannot fill it
        self.guard.check(envelope)
        return Incoming(envelope, sender, job, asset_id)

    def receipt(
        self, incoming: Incoming, fields: UpdateFields, epsilon: int, update: bytes
    ) -> Receipt:
        """The receipt of `update` (the blob's bytes: the receipt signs their sha2-256),
        if its asset's owner signed it for this job and round, with
        the round's privacy loss `epsilon` (millionths) this node's accountant counts, and
        for no more examples than the asset's registration committed to."""
        ledger = self.ctx.ledger
        rows = self.ctx.chain.rows(incoming.asset_id)
        if fields.num_examples > rows:
            raise ProtocolError(
                f"The update claims {fields.num_examples} examples, but asset "
                f"{format_asset_id(incoming.asset_id)} was registered with {rows} rows."
            )
        receipt = Receipt(
            incoming.job.job_id, incoming.round, incoming.asset_id, fields.num_examples,
            content_hash(update), fields.receipt_signature, epsilon=epsilon,
        )  # fmt: skip
        if receipt.signer(ledger.chain_id, ledger.jobs.address) != incoming.sender:
            raise EnvelopeError("The receipt is not signed by the asset's owner for this round.")
        return receipt
