"""A job's documents and models as a node holds them: the job spec (with a fine-tuning
job's pretrained model attached, fetched once by its content id), the current global
model (rebuilt from the half-size delta its aggregator handed out when possible), the
strategy's server state, and the blobs peers post to this node."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace

import numpy as np

from dain.learning import (
    ModelSpecError,
    Params,
    ServerState,
    Strategy,
    make_strategy,
    param_shapes,
)
from dain.ledger import JobInfo
from dain.node.blob_index import BlobKind, BlobTag
from dain.node.context import NodeContext
from dain.node.errors import ProtocolError
from dain.node.spec import JobSpec
from dain.storage import (
    CodecError,
    Shapes,
    cid_of,
    decode_half,
    decode_tensors,
    encode_tensors,
    read_metadata,
)

log = logging.getLogger(__name__)
MODEL_DELTA = "model-delta"  # the `kind` of a hand-out: the change from one model to the next


def apply_delta(base: Params, delta: Params) -> Params:
    """base + delta in float32: the one way every node computes a round's model."""
    return {name: (base[name] + delta[name]).astype(np.float32) for name in base}


class JobModels:
    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        self._specs: dict[int, JobSpec] = {}
        self._deltas: dict[str, tuple[str, str]] = {}  # result cid -> (base cid, delta cid)
        self._lock = threading.Lock()  # handlers record hand-outs while the runner reads them

    def blob(self, cid: str, job: JobInfo, kind: BlobKind) -> bytes:
        """A job's blob from here, else from the peers likely to hold it (then kept, as
        what it is, so this node can serve it to the job's other participants)."""
        blobs = self.ctx.blobs
        if blobs.has(cid):
            return blobs.get(cid)
        data = self.ctx.peers.fetch_blob(cid, self.ctx.chain.holders(job), job.job_id)
        self.ctx.keep(data, BlobTag(kind, job.job_id, job.current_round))
        return data

    def spec(self, job: JobInfo) -> JobSpec:
        """The job's spec, checked against its on-chain terms, with a fine-tuning job's
        pretrained model attached to its model; read once per job."""
        with self._lock:
            found = self._specs.get(job.job_id)
        if found is None:
            found = JobSpec.from_bytes(self.blob(job.spec_cid, job, BlobKind.SPEC))
            found.check_terms(job.secure_aggregation)
            found = self._with_base(job, found)
            with self._lock:
                self._specs[job.job_id] = found
        return found

    def _with_base(self, job: JobInfo, spec: JobSpec) -> JobSpec:
        """The spec with its pretrained tensors, fetched by the content id it names (kept
        as one of the job's models, so this node serves them to the job's other
        participants) and checked against its architecture."""
        fine_tune = spec.model.fine_tune
        if fine_tune is None:
            return spec
        data = self.blob(fine_tune.base_cid, job, BlobKind.MODEL)
        try:
            model = spec.model.with_base(decode_tensors(data))
        except (ModelSpecError, CodecError) as exc:
            raise ProtocolError(
                f"Job {job.job_id}'s pretrained model {fine_tune.base_cid} does not fit its "
                f"spec: {exc.message}", hint=exc.hint,
            ) from exc
        return replace(spec, model=model)

    def base_cid(self, job: JobInfo) -> str | None:
        """The content id of a fine-tuning job's pretrained model, if this node holds the
        job's spec (its requester does from the start); None otherwise."""
        if not self.ctx.blobs.has(job.spec_cid):
            return None
        with self._lock:
            found = self._specs.get(job.job_id)
        if found is None:
            try:
                found = JobSpec.from_bytes(self.ctx.blobs.get(job.spec_cid))
            except ProtocolError:
                return None
        fine_tune = found.model.fine_tune
        return fine_tune.base_cid if fine_tune else None

    def global_model(self, job: JobInfo, spec: JobSpec) -> Params:
        shapes = param_shapes(spec.model)
        if not self.ctx.blobs.has(job.model_cid):
            self.rebuild(job.model_cid, shapes)
        return decode_tensors(self.blob(job.model_cid, job, BlobKind.MODEL), expected=shapes)

    def strategy(self, job: JobInfo, spec: JobSpec) -> tuple[Strategy, ServerState]:
        """The job's strategy and its server state as the last aggregator left it: the
        current model names the state's blob, wherever the state was made."""
        strategy = make_strategy(spec.strategy, **spec.strategy_options)
        model = self.blob(job.model_cid, job, BlobKind.MODEL)
        state_cid = read_metadata(model).get("strategy_state")
        if not state_cid:
            return strategy, ServerState()
        state = self.blob(state_cid, job, BlobKind.STATE)
        return strategy, ServerState.from_params(decode_tensors(state))

    # ---- hand-outs --------------------------------------------------------------------

    def note_handout(self, cid: str, handout: bytes) -> None:
        """An aggregator handed us the change from one model to the next (already stored):
        it names the model it applies to and the model it makes."""
        metadata = read_metadata(handout)
        if metadata.get("kind") == MODEL_DELTA and {"base", "result"} <= set(metadata):
            with self._lock:
                self._deltas[metadata["result"]] = (metadata["base"], cid)
            self.ctx.signals.handout.set()

    def handed_out(self, base_cid: str) -> bool:
        """Whether an aggregator handed us the model that follows `base_cid`."""
        with self._lock:
            return any(base == base_cid for base, _ in self._deltas.values())

    def rebuild(self, model_cid: str, shapes: Shapes) -> bool:
        """Rebuilds a round's model from the previous one and the float16 delta its
        aggregator handed out; keeps it only if it hashes to the recorded content id.
        Returns whether it did."""
        blobs = self.ctx.blobs
        with self._lock:
            found = self._deltas.get(model_cid)
        if found is None or not blobs.has(found[0]):
            return False
        base_cid, delta_cid = found
        handed = self.ctx.index.tag_of(delta_cid)
        base = decode_tensors(blobs.get(base_cid), expected=shapes)
        handout = blobs.get(delta_cid)
        rebuilt = encode_tensors(
            apply_delta(base, decode_half(handout, shapes)), model_metadata(handout)
        )
        if cid_of(rebuilt) != model_cid:
            log.warning("%s: a model delta did not rebuild %s; fetching it instead",
                        self.ctx.name, model_cid)  # fmt: skip
            return False
        job_id, round = (handed.job_id, handed.round) if handed else (0, 0)
        self.ctx.keep(rebuilt, BlobTag(BlobKind.MODEL, job_id, round))
        return True


def model_metadata(handout: bytes) -> dict[str, str] | None:
    """The metadata the model a hand-out builds carries (its strategy state), if any."""
    state = read_metadata(handout).get("strategy_state")
    return {"strategy_state": state} if state else None
