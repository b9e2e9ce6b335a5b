"""What a job's page lets the node's operator take away: the job's model card (as `dain
job card` writes it) and the job's current model, when this node holds it (as `dain job
model` exports it, checked against its content id on chain). Nothing is fetched for the
model: a page offers only what the node has."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dain.node import BlobKind, BlobTag, build_card, reports_blob
from dain.storage import verify

if TYPE_CHECKING:
    from dain.node import Node


def model_card(node: Node, job_id: int) -> dict[str, Any]:
    """The card `dain job card` writes: from the chain, the spec and model blobs (here or
    from the job's holders), the participants' signed reports this node keeps (as one
    blob, kept so the card's reports_cid can be fetched) and its own scores."""
    job = node.ledger.jobs.job(job_id)
    holders = node.ctx.chain.holders(job)

    def fetch(cid: str) -> bytes:
        if node.ctx.blobs.has(cid):
            return node.ctx.blobs.get(cid)
        return node.fetch_blob(cid, holders, job_id)

    reports = [r.envelope for r in node.evaluation.store.reports(job_id)]
    reports_cid = None
    if reports:
        reports_cid = node.ctx.keep(reports_blob(reports),
                                    BlobTag(BlobKind.MODEL, job_id, job.current_round))  # fmt: skip
    own = {m.round: m.requester.to_dict() for m in node.metrics(job_id) if m.requester}
    return build_card(node.ledger, job_id, fetch, reports_cid, own)


def current_model(node: Node, job_id: int) -> tuple[bytes, str]:
    """The job's current model (safetensors) and a file name for it, as `dain job model`."""
    job = node.ledger.jobs.job(job_id)
    data = node.models.blob(job.model_cid, job, BlobKind.MODEL)
    verify(job.model_cid, data)  # the store checks too: this is the promise kept
    return data, f"job-{job_id}-round-{job.current_round}.safetensors"
