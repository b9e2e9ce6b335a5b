"""The end of a round at its aggregator: the new model is stored and handed to the round's
participants and the requester, then the round is recorded on chain with every receipt
(or, when a secure round cannot be unmasked, aborted with no new model)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from dain.learning import Params, param_shapes
from dain.ledger import JobInfo, Receipt, RoundInfo
from dain.node.blob_index import BlobKind, BlobTag
from dain.node.context import NodeContext
from dain.node.models import MODEL_DELTA, JobModels, apply_delta
from dain.storage import content_hash, decode_half, encode_half, encode_tensors

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoundOutcome:
    """What an aggregator puts on chain for a round it closes."""

    change: Params  # the new global model minus the current one
    receipts: list[Receipt]
    owners: set[str]  # whose data the round used: they get the new model first
    epsilon: float  # the round's privacy loss (on chain: the largest its receipts carry)
    rejected: list[str] = field(default_factory=list)  # senders of unusable updates
    state: Params | None = None  # the strategy's server state after the round
    # the aggregator's value of each receipt's update by asset (dain.incentives.encode_round),
    # in a job without secure aggregation; None records none
    values: dict[int, int] | None = None


class Recorder:
    def __init__(self, ctx: NodeContext, models: JobModels) -> None:
        self.ctx = ctx
        self.models = models

    def record(self, job: JobInfo, round: int, outcome: RoundOutcome) -> RoundInfo:
        """Applies the round's change to the global model, hands it out, and records the
        round. A strategy's server state is stored as a blob the new model names, for
        the next aggregator. Hand-outs go before the record, so the job goes on even if
        this node dies right after recording."""
        ctx = self.ctx
        spec = self.models.spec(job)
        global_params = self.models.global_model(job, spec)
        audience = outcome.owners | {job.requester}
        meta = {}
        if outcome.state:
            state_blob = encode_tensors(outcome.state)
            tag = BlobTag(BlobKind.STATE, job.job_id, round)
            meta["strategy_state"] = ctx.keep(state_blob, tag)
            ctx.peers.hand_out(state_blob, audience, BlobKind.STATE, job.job_id, round)
        # the change is rounded to float16 and applied exactly so, which lets every node
        # rebuild the new model bit for bit from a half-size delta
        shapes = param_shapes(spec.model)
        rounded = decode_half(encode_half(outcome.change), shapes)
        model = encode_tensors(apply_delta(global_params, rounded), meta or None)
        model_cid = ctx.keep(model, BlobTag(BlobKind.MODEL, job.job_id, round))
        log.info("%s: job %d, round %d: aggregated %d update(s) into model %s", ctx.name,
                 job.job_id, round, len(outcome.receipts), model_cid)  # fmt: skip
        handout = encode_half(
            outcome.change, {"kind": MODEL_DELTA, "base": job.model_cid, "result": model_cid,
                             **meta},
        )  # fmt: skip
        ctx.keep(handout, BlobTag(BlobKind.HANDOUT, job.job_id, round))
        ctx.peers.hand_out(handout, audience, BlobKind.HANDOUT, job.job_id, round)
        ctx.chain.forget()
        sent = ctx.ledger.jobs.record_round(
            job.job_id, round, model_cid, content_hash(model), outcome.receipts,
            values=outcome.values, rejected=outcome.rejected,
        )  # fmt: skip
        log.info("%s: job %d, round %d: recorded in transaction 0x%s (block %d)", ctx.name,
                 job.job_id, round, sent.tx_hash.removeprefix("0x"),
                 sent.block_number)  # fmt: skip
        return ctx.ledger.jobs.round_record(job.job_id, round)

    def abort(self, job: JobInfo, round: int, survivors: int) -> RoundInfo:
        """Closes a secure round too few clients survived, or a round whose sample holds no
        asset: the model stays as it was."""
        self.ctx.chain.forget()
        sent = self.ctx.ledger.jobs.abort_round(job.job_id, round, survivors)
        if not job.secure_aggregation:
            log.info("%s: job %d, round %d: aborted in transaction 0x%s: its sample holds no "
                     "asset", self.ctx.name, job.job_id, round,
                     sent.tx_hash.removeprefix("0x"))  # fmt: skip
            return self.ctx.ledger.jobs.round_record(job.job_id, round)
        log.warning("%s: job %d, round %d: aborted in transaction 0x%s: only %d participant(s) "
                    "survived, too few to unmask", self.ctx.name, job.job_id, round,
                    sent.tx_hash.removeprefix("0x"), survivors)  # fmt: skip
        return self.ctx.ledger.jobs.round_record(job.job_id, round)
