"""Who may read and who may store which blob here, decided from the blob index and the
chain, for signed and fresh requests only:

- a participant's update or masked update: read only by its round's elected aggregator,
  while the round is open; stored here only from the owner of an enrolled asset, while
  this node is elected
- a job's models (a fine-tuning job's pretrained model among them), hand-outs and
  strategy state: read by the job's participants (owners of its enrolled assets) and
  its requester; hand-outs and state stored here only
  from the round's elected aggregator, at a node with a role in the job
- an asset's documents (manifest, policy) and a job's spec: read by any member (members
  vote on a job and owners decide whether to enroll from its spec); never uploaded

Each sender has a storage quota here, and blobs of finished jobs are collected after a
retention period, all but the job's spec and final model (and pretrained model)."""

from __future__ import annotations

import logging
import time
from typing import Any

from dain.ledger import JobInfo, JobStatus
from dain.node.blob_index import BlobIndex, BlobKind, BlobTag
from dain.node.context import NodeContext
from dain.node.envelope import MessageKind
from dain.node.errors import EnvelopeError, Forbidden, ProtocolError, QuotaExceeded
from dain.node.intake import Intake
from dain.node.models import MODEL_DELTA, JobModels
from dain.storage import (
    DAIN_DTYPES,
    FLOAT16,
    FLOAT32,
    UINT32,
    BlobNotFound,
    CodecError,
    cid_of,
    decode_tensors,
    read_metadata,
)

log = logging.getLogger(__name__)
# what each kind that travels holds: the tensors' one dtype
_DTYPES = {BlobKind.UPDATE: FLOAT16, BlobKind.HANDOUT: FLOAT16, BlobKind.MASKED: UINT32,
           BlobKind.STATE: FLOAT32}  # fmt: skip


def finished(job: JobInfo) -> bool:
    return job.status in (JobStatus.COMPLETED, JobStatus.CANCELLED) or (
        job.status == JobStatus.RUNNING and job.current_round >= job.rounds
    )


class BlobAccess:
    def __init__(
        self,
        ctx: NodeContext,
        intake: Intake,
        models: JobModels,
        *,
        quota_bytes: int = 256 * 2**20,
        retention_seconds: float = 7 * 86_400.0,
    ) -> None:
        self.ctx = ctx
        self.intake = intake
        self.models = models
        self.quota_bytes = quota_bytes
        self.retention_seconds = retention_seconds

    @property
    def index(self) -> BlobIndex:
        return self.ctx.index

    # ---- reading -----------------------------------------------------------------------

    def read(self, cid: str, envelope_bytes: bytes) -> bytes:
        """The blob, if the signed request's sender may read it."""
        envelope, sender = self.intake.signed(envelope_bytes, MessageKind.BLOB_GET)
        if envelope.body.get("cid") != cid:
            raise EnvelopeError("The request is signed for another blob.")
        if not self.ctx.blobs.has(cid):
            raise BlobNotFound(cid)
        # only an untagged blob (a requester's spec or first model, kept before its job
        # existed) is judged by what the request's job names: otherwise any member could
        # propose a job naming someone's update or round model as its spec, and read it
        tag = self.index.tag_of(cid) or self._job_document(cid, envelope.job_id)
        if tag is None or not self._may_read(tag, sender):
            raise Forbidden(f"{sender} has no role that lets it read blob {cid}.")
        return self.ctx.blobs.get(cid)

    def _job_document(self, cid: str, job_id: int) -> BlobTag | None:
        """A requester's spec, first model and pretrained model (a fine-tuning job's) are
        put in its store before any job exists, so they carry no tag: the chain says
        whether `cid` is the job's spec or model, and the spec names the pretrained one."""
        if job_id <= 0:
            return None
        job = self.ctx.chain.job(job_id)
        if cid == job.spec_cid:
            return BlobTag(BlobKind.SPEC, job_id)
        if cid == job.model_cid:
            return BlobTag(BlobKind.MODEL, job_id, job.current_round)
        if cid == self.models.base_cid(job):
            return BlobTag(BlobKind.MODEL, job_id)
        return None

    def _may_read(self, tag: BlobTag, sender: str) -> bool:
        if tag.kind in (BlobKind.DOCUMENT, BlobKind.SPEC):
            # the sender is a member (the intake checked it); a job's spec is its terms,
            # which members vote on and owners read before they enroll their data
            return True
        if tag.kind.individual:  # only while its round is open, and only to its aggregator
            job = self.ctx.chain.job_for_round(tag.job_id, tag.round)
            open_round = job.status == JobStatus.RUNNING and job.current_round + 1 == tag.round
            return open_round and sender == self.ctx.chain.aggregator(tag.job_id, tag.round)
        return self.ctx.chain.takes_part(self.ctx.chain.job(tag.job_id), sender)

    # ---- storing -----------------------------------------------------------------------

    def store(self, body: bytes, envelope_bytes: bytes) -> str:
        """Keeps a blob a member sent for its role in a job; its content id."""
        envelope, sender = self.intake.signed(envelope_bytes, MessageKind.BLOB_PUT)
        cid = cid_of(body)
        if envelope.body.get("cid") != cid:
            raise EnvelopeError("The request is signed for other content than it carries.")
        try:
            kind = BlobKind(str(envelope.body.get("kind")))
        except ValueError:
            raise ProtocolError(f"No blob kind '{envelope.body.get('kind')}'.") from None
        job = self.ctx.chain.job_for_round(envelope.job_id, envelope.round)
        self._check_role(kind, job, envelope.round, sender)
        _check_content(kind, body, job)
        if self.index.stored_by(sender) + len(body) > self.quota_bytes:
            raise QuotaExceeded(
                f"Storing this would take {sender}'s blobs here past its quota of "
                f"{self.quota_bytes} bytes; they are collected once their jobs are over."
            )
        self.ctx.blobs.put(body)
        self.index.tag(cid, BlobTag(kind, job.job_id, envelope.round, sender, len(body)))
        if kind is BlobKind.HANDOUT:
            self.models.note_handout(cid, body)
        return cid

    def _check_role(self, kind: BlobKind, job: JobInfo, round: int, sender: str) -> None:
        chain, me = self.ctx.chain, self.ctx.address
        if job.status != JobStatus.RUNNING or round != job.current_round + 1:
            raise ProtocolError(f"Job {job.job_id} is not running round {round}.")
        elected = chain.aggregator(job.job_id, round)
        if kind.individual:
            if elected != me:
                raise ProtocolError(f"This node is not the aggregator of job {job.job_id}, "
                                    f"round {round}.")  # fmt: skip
            if sender not in chain.owners(job).values():
                raise Forbidden(f"{sender} owns no asset enrolled in job {job.job_id}.")
        elif kind in (BlobKind.HANDOUT, BlobKind.STATE):
            if sender != elected:
                raise Forbidden(f"{sender} is not the aggregator of job {job.job_id}, "
                                f"round {round}: only it hands out the round's model.")  # fmt: skip
            if not chain.takes_part(job, me):
                raise Forbidden(f"This node has no role in job {job.job_id}.")
        else:
            raise Forbidden(f"Nobody uploads a {kind} to another node: its holder serves it.")

    # ---- retention ---------------------------------------------------------------------

    def collect(self, now: float | None = None) -> int:
        """Deletes the blobs of jobs over for longer than the retention period, all but
        each job's spec and final model (and the pretrained model a fine-tuned one
        needs); returns the bytes freed."""
        now = time.time() if now is None else now
        freed = 0
        for job_id in self.index.jobs():
            job = self.ctx.ledger.jobs.job(job_id)
            if not finished(job):
                continue
            if now - self.index.finished_at(job_id, now) < self.retention_seconds:
                continue
            kept = (job.spec_cid, job.model_cid, self.models.base_cid(job))
            for cid, _ in self.index.of_job(job_id):
                if cid in kept:
                    continue
                freed += self.ctx.blobs.delete(cid)
                self.index.forget(cid)
        if freed:
            log.info("%s: collected %d bytes of finished jobs' blobs", self.ctx.name, freed)
        return freed


def _check_content(kind: BlobKind, body: bytes, job: JobInfo) -> None:
    """A blob holds what its kind says: safetensors of the kind's dtype; a hand-out
    names the job's current model as the one it changes."""
    tensors = decode_tensors(body, dtype=None)
    dtypes = {t.dtype for t in tensors.values()}
    if not dtypes <= DAIN_DTYPES or dtypes - {_DTYPES[kind]}:
        raise CodecError(f"A {kind} holds {_DTYPES[kind]} tensors, not {sorted(map(str, dtypes))}.")
    if kind is BlobKind.HANDOUT:
        metadata: dict[str, Any] = read_metadata(body)
        if metadata.get("kind") != MODEL_DELTA or metadata.get("base") != job.model_cid:
            raise ProtocolError("A hand-out must change the job's current model.")
