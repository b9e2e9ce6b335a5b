"""The elected aggregator of a plain round: it checks each update as it arrives, and when
the round is due combines the usable ones with the job's strategy and records the round.

Checks (envelope, chain reads, signature recovery, decoding) run outside the lock; the lock
only guards the round's collections, which request threads and the runner share."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dain.data import format_asset_id
from dain.errors import DainError
from dain.learning import ClientUpdate, Params, param_shapes, subtract
from dain.ledger import JobInfo, Receipt, RoundInfo, round_epsilon_to_chain
from dain.node.context import LocalAsset, NodeContext
from dain.node.envelope import MessageKind
from dain.node.errors import ProtocolError
from dain.node.intake import Intake, UpdateFields
from dain.node.models import JobModels
from dain.node.recorder import Recorder, RoundOutcome
from dain.node.valuer import round_values
from dain.storage import BlobNotFound, decode_half


@dataclass(frozen=True)
class PendingUpdate:
    asset_id: int
    owner: str
    delta: Params
    num_examples: int
    receipt: Receipt


class Aggregator:
    def __init__(
        self,
        ctx: NodeContext,
        intake: Intake,
        models: JobModels,
        recorder: Recorder,
        own_assets: Callable[[JobInfo], list[LocalAsset]],
    ) -> None:
        self.ctx = ctx
        self.intake = intake
        self.models = models
        self.recorder = recorder
        self.own_assets = own_assets  # this node's assets that may serve the job now
        self._pending: dict[tuple[int, int], dict[int, PendingUpdate]] = {}
        self._rejected: dict[tuple[int, int], set[str]] = {}
        self._lock = threading.Lock()

    def accept_update(self, body: bytes) -> dict[str, Any]:
        incoming = self.intake.check(body, MessageKind.UPDATE)
        job, round, sender = incoming.job, incoming.round, incoming.sender
        fields = UpdateFields.from_body(incoming.envelope.body)
        try:
            blob = self.ctx.blobs.get(fields.update_cid)
        except BlobNotFound:
            raise ProtocolError("Send the update blob to /blobs before its envelope.") from None
        try:
            spec = self.models.spec(job)
            delta = decode_half(blob, param_shapes(spec.model))
            epsilon = round_epsilon_to_chain(spec.privacy.round_epsilon(round))
            receipt = self.intake.receipt(incoming, fields, epsilon, blob)
        except DainError:
            # a member sent an unusable update: the round record reports it (reputation)
            with self._lock:
                self._rejected.setdefault((job.job_id, round), set()).add(sender)
            raise
        update = PendingUpdate(incoming.asset_id, sender, delta, fields.num_examples, receipt)
        answer: dict[str, Any] = {"accepted": True, "job_id": job.job_id, "round": round}
        with self._lock:
            pending = self._pending.setdefault((job.job_id, round), {})
            held = pending.get(update.asset_id)
            if held is None:
                pending[update.asset_id] = update
                return answer
        if held.receipt.update_hash == receipt.update_hash:
            # the same update again (a node resending after a crash): already have it
            return answer | {"duplicate": True}
        raise ProtocolError(f"Asset {format_asset_id(update.asset_id)} already sent an update "
                            f"for round {round}.")  # fmt: skip

    def forget_before(self, job_id: int, round: int) -> None:
        """Drops what arrived for rounds of the job before `round`: they are over."""
        with self._lock:
            for key in [k for k in self._pending if k[0] == job_id and k[1] < round]:
                del self._pending[key]
            for key in [k for k in self._rejected if k[0] == job_id and k[1] < round]:
                del self._rejected[key]

    def received(self, job_id: int, round: int) -> int:
        with self._lock:
            return len(self._pending.get((job_id, round), {}))

    def finish_round(self, job_id: int, round: int) -> RoundInfo | None:
        """If this node is the round's aggregator: aggregates what arrived, stores the new
        model and records the round with every receipt on chain (or aborts a round whose
        sample holds no asset)."""
        ctx = self.ctx
        if ctx.ledger.jobs.aggregator_at(job_id, round, ctx.clock.now()) != ctx.address:
            return None
        job = ctx.ledger.jobs.job(job_id)
        if job.sampling and not ctx.chain.sample(job, round, ctx.chain.enrolled(job)):
            # nobody to wait for: the contract checks the sample is empty and lets it abort
            return self.recorder.abort(job, round, 0)
        with self._lock:
            received = self._pending.pop((job_id, round), {})
            rejected = self._rejected.pop((job_id, round), set())
        try:
            return self._finish(job, round, received, rejected)
        except Exception:
            # the chain or a peer failed on the way: keep what arrived for the next try
            with self._lock:
                self._pending[(job_id, round)] = received | self._pending.get((job_id, round), {})
                self._rejected[(job_id, round)] = rejected | self._rejected.get((job_id, round),
                                                                               set())  # fmt: skip
            raise

    def _finish(
        self, job: JobInfo, round: int, received: dict[int, PendingUpdate], rejected: set[str]
    ) -> RoundInfo | None:
        ctx = self.ctx
        ctx.chain.forget()
        # consent revoked after an update arrived still excludes it from the round
        live = set(ctx.chain.allowed(job, sorted(received)))
        usable = [p for asset, p in sorted(received.items()) if asset in live]
        if not usable:
            return None
        spec = self.models.spec(job)
        strategy, state = self.models.strategy(job, spec)
        global_params = self.models.global_model(job, spec)
        updates = [ClientUpdate(p.delta, p.num_examples) for p in usable]
        pairs = zip(usable, updates, strict=True)
        judged = [(p.asset_id, u, p.asset_id in ctx.assets) for p, u in pairs]
        values = round_values(job, round, spec, strategy, global_params, judged,
                              self.own_assets(job))  # fmt: skip
        aggregated, state = strategy.aggregate(state, global_params, updates)
        outcome = RoundOutcome(
            subtract(aggregated, global_params), [p.receipt for p in usable],
            {p.owner for p in usable}, spec.privacy.round_epsilon(round),
            rejected=sorted(rejected), state=state.to_params(), values=values,
        )  # fmt: skip
        return self.recorder.record(job, round, outcome)
