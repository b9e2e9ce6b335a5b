"""The elected aggregator of a secure round: it collects each stage's messages (share
messages, masked updates, the survivors' signed consistency checks, unmask answers), closes
a stage when everyone expected has answered or its share of the round window has passed,
and records the round once the survivors' sum can be unmasked (or aborts it on chain when
it cannot). It only ever holds masked vectors and the sum.

The lock guards the rounds' collections only; chain reads, signature recovery, decoding
and the unmasking itself run outside it. Once a round is being summed it takes no more
messages, so the sum is computed from a collection nobody else changes."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from dain.learning import PrivacyLevel, SecAggAborted, SecAggError, param_shapes, subtract, unstack
from dain.learning.secagg import ConsistencyCheck, SecAggServer, ShareMessage, UnmaskResponse
from dain.ledger import JobInfo, Receipt, RoundInfo, round_epsilon_to_chain
from dain.node.context import NodeContext
from dain.node.envelope import MessageKind
from dain.node.errors import ProtocolError, StageOpen
from dain.node.intake import Incoming, Intake, UpdateFields
from dain.node.models import JobModels
from dain.node.recorder import Recorder, RoundOutcome
from dain.node.secure_participant import MASKED, round_setup, update_weight
from dain.node.spec import JobSpec
from dain.storage import UINT32, BlobNotFound, decode_tensors

log = logging.getLogger(__name__)


class Phase(StrEnum):
    """Where a secure round stands at its aggregator."""

    SHARING = "sharing"  # collecting share messages
    MASKING = "masking"  # roster closed; collecting masked updates
    CHECKING = "checking"  # survivors closed; collecting their consistency checks
    UNMASKING = "unmasking"  # checks closed; collecting answers to the unmask request
    SUMMING = "summing"  # no more messages: the sum is computed and recorded
    SUMMED = "summed"  # recorded on chain
    ABORTED = "aborted"  # aborted on chain: too few survived, or consent was revoked

    @property
    def open(self) -> bool:
        return self in (Phase.SHARING, Phase.MASKING, Phase.CHECKING, Phase.UNMASKING)


@dataclass
class _Collecting:
    """One secure round at this aggregator."""

    server: SecAggServer
    spec: JobSpec
    envelopes: dict[int, bytes] = field(default_factory=dict)  # asset -> signed shares
    inputs: dict[int, tuple[str, Receipt]] = field(default_factory=dict)  # asset -> owner, receipt
    phase: Phase = Phase.SHARING
    since: dict[Phase, float] = field(default_factory=dict)  # stage -> chain time it opened
    total: np.ndarray | None = None  # the unmasked sum, kept until the round is recorded


class SecureAggregator:
    def __init__(
        self, ctx: NodeContext, intake: Intake, models: JobModels, recorder: Recorder
    ) -> None:
        self.ctx = ctx
        self.intake = intake
        self.models = models
        self.recorder = recorder
        self._rounds: dict[tuple[int, int], _Collecting] = {}
        self._lock = threading.Lock()
        self.summaries: dict[str, dict[str, Any]] = {}  # "job/round" -> what happened

    def busy(self) -> bool:
        """Whether a round here waits on a stage deadline (so the runner should poll)."""
        with self._lock:
            return any(c.phase.open or c.phase is Phase.SUMMING for c in self._rounds.values())

    def forget_before(self, job_id: int, round: int) -> None:
        """Drops rounds of the job before `round`: recorded, here or by another node."""
        with self._lock:
            for key in [k for k in self._rounds if k[0] == job_id and k[1] < round]:
                del self._rounds[key]

    def _round(self, job: JobInfo, round: int) -> _Collecting:
        key = (job.job_id, round)
        with self._lock:
            found = self._rounds.get(key)
        if found is None:  # set up outside the lock: it reads every agreement key on chain
            spec = self.models.spec(job)
            setup = round_setup(self.ctx.ledger, job, round, spec, self.ctx.address)
            made = _Collecting(SecAggServer(setup), spec)
            with self._lock:
                found = self._rounds.setdefault(key, made)
        return found

    # ---- messages from participants ------------------------------------------------

    def accept(self, kind: MessageKind, body: bytes) -> dict[str, Any]:
        """A secure-round message from a participant, checked like a plain update."""
        incoming = self.intake.check(body, kind)
        collecting = self._round(incoming.job, incoming.round)
        asset_id = incoming.asset_id
        if kind is MessageKind.SHARES:
            message = ShareMessage.from_dict(_field(incoming, "shares"))
            if message.sender != asset_id:
                raise ProtocolError("A share message must be for the asset it names.")
            with self._lock:
                _still_open(collecting)
                collecting.server.add_shares(message)
                collecting.envelopes.setdefault(asset_id, body)
        elif kind is MessageKind.MASKED:
            fields = UpdateFields.from_body(incoming.envelope.body)
            epsilon = round_epsilon_to_chain(collecting.spec.privacy.round_epsilon(incoming.round))
            blob = self._masked_blob(fields.update_cid)
            receipt = self.intake.receipt(incoming, fields, epsilon, blob)
            vector = _vector(blob, collecting.server.setup.length)
            with self._lock:
                _still_open(collecting)
                collecting.server.add_masked(asset_id, vector)
                collecting.inputs.setdefault(asset_id, (incoming.sender, receipt))
        elif kind is MessageKind.CHECK:
            check = ConsistencyCheck.from_dict(_field(incoming, "check"))
            if check.sender != asset_id:
                raise ProtocolError("A consistency check must be for the asset it names.")
            with self._lock:
                _still_open(collecting)
                try:
                    collecting.server.add_check(check)
                except SecAggError as exc:  # it saw another view of the round than ours
                    raise ProtocolError(str(exc)) from exc
        else:
            response = UnmaskResponse.from_dict(_field(incoming, "response"))
            if response.sender != asset_id:
                raise ProtocolError("An unmask response must be for the asset it names.")
            with self._lock:
                _still_open(collecting)
                collecting.server.add_unmask(response)
        return {"accepted": True, "job_id": incoming.job.job_id, "round": incoming.round}

    def _masked_blob(self, cid: str) -> bytes:
        try:
            return self.ctx.blobs.get(cid)
        except BlobNotFound:
            raise ProtocolError("Send the masked update to /blobs before its envelope.") from None

    def roster(self, job_id: int, round: int) -> dict[str, Any]:
        """Everyone's signed share messages, once key sharing has closed."""
        with self._lock:
            collecting = self._rounds.get((job_id, round))
            if collecting is None or collecting.server.roster is None:
                raise StageOpen("Key sharing for that round is still open.")
            return {"roster": [collecting.envelopes[a].decode() for a in collecting.server.roster]}

    def survivors_request(self, job_id: int, round: int) -> dict[str, Any]:
        """Who survived and who dropped, once masked inputs have closed: what each
        survivor checks and signs."""
        with self._lock:
            collecting = self._rounds.get((job_id, round))
            if collecting is None or collecting.server.survivors is None:
                raise StageOpen("Masked inputs for that round are still being collected.")
            return _survivors(collecting)

    def unmask_request(self, job_id: int, round: int, asset_id: int) -> dict[str, Any]:
        """The survivors, the dropped and the vouchers addressed to `asset_id`, once the
        consistency check has closed: a client reveals shares only under a quorum."""
        with self._lock:
            collecting = self._rounds.get((job_id, round))
            if collecting is None or collecting.server.signers is None:
                raise StageOpen("The survivors of that round are still signing.")
            vouchers = collecting.server.vouchers_for(asset_id)
            return _survivors(collecting) | {
                "vouchers": {str(p): v.hex() for p, v in vouchers.items()}
            }

    # ---- closing stages --------------------------------------------------------------

    def progress(self, job: JobInfo, round: int, now: float, expected: int) -> RoundInfo | None:
        """Closes whatever stage is due; records the round once it can be unmasked, or
        aborts it on chain when it cannot. Returns the record when the round ended here."""
        collecting = self._round(job, round)  # a round nobody joined still ends, aborted
        try:
            total = self._advance(job, collecting, now, expected)
        except SecAggAborted as exc:
            with self._lock:
                collecting.phase = Phase.ABORTED
            self._summarize(job, round, collecting, str(exc))
            log.warning("%s: round %d of job %d aborted: %s", self.ctx.name, round, job.job_id,
                        exc)  # fmt: skip
            return self.recorder.abort(job, round, len(collecting.server.survivors or ()))
        if total is None:
            return None
        # said before recording, so whoever sees the record on chain also finds the summary
        self._summarize(job, round, collecting, "", Phase.SUMMED)
        try:
            record = self._record(job, round, collecting, total)
        except Exception as exc:
            self._summarize(job, round, collecting, f"recording failed: {exc}")
            raise
        with self._lock:
            collecting.phase = Phase.SUMMED
        return record

    def _advance(
        self, job: JobInfo, collecting: _Collecting, now: float, expected: int
    ) -> np.ndarray | None:
        """Moves the round on as far as it can go now; the unmasked sum once it is there."""
        settings, server, since = collecting.spec.secagg, collecting.server, collecting.since
        duration = job.round_duration
        into = ((now - job.round_opened_at) % duration) / duration
        # each stage has its share of the window from when the one before it ended (the
        # first share message for key sharing: training time is not the protocol's)
        windows = {
            Phase.SHARING: settings.share_by * duration,
            Phase.MASKING: (settings.input_by - settings.share_by) * duration,
            Phase.CHECKING: (settings.check_deadline - settings.input_by) * duration,
            Phase.UNMASKING: (settings.unmask_by - settings.check_deadline) * duration,
        }

        def waiting(stage: Phase) -> bool:
            return now - since.setdefault(stage, now) < windows[stage]

        sent: list[int] | None = None
        with self._lock:
            if collecting.phase in (Phase.SUMMED, Phase.ABORTED):
                return None
            if collecting.phase is Phase.SUMMING:
                return collecting.total  # recording failed last time: try again
            if collecting.phase is Phase.SHARING:
                if not server.shares and into < settings.unmask_by:
                    return None  # nobody has trained yet
                if len(server.shares) < expected and waiting(Phase.SHARING):
                    return None
                collecting.phase = Phase.MASKING
                server.close_sharing()
            if collecting.phase is Phase.MASKING:
                if len(server.masked) < len(server.roster or {}) and waiting(Phase.MASKING):
                    return None
                sent = sorted(server.masked)
        if sent is not None:
            self._close_inputs(job, collecting, sent)
        with self._lock:
            if collecting.phase is Phase.CHECKING:
                if len(server.checks) < len(server.survivors or ()) and waiting(Phase.CHECKING):
                    return None
                collecting.phase = Phase.UNMASKING
                server.close_checks()
            if server.missing() and waiting(Phase.UNMASKING):
                return None
            collecting.phase = Phase.SUMMING  # from here on the round takes no messages
        total = server.total()
        survivors = sorted(server.survivors or ())
        if self.ctx.chain.allowed(job, survivors) != survivors:
            raise SecAggAborted("Consent was revoked after the inputs were summed.")
        collecting.total = total
        return total

    def _close_inputs(self, job: JobInfo, collecting: _Collecting, sent: list[int]) -> None:
        """Closes masked inputs. An asset whose consent was revoked after it sent its masked
        update is treated as dropped: its pairwise masks are removed, its input never
        enters the sum."""
        server = collecting.server
        revoked = set(sent) - set(self.ctx.chain.allowed(job, sent))
        with self._lock:
            for asset_id in revoked:
                server.masked.pop(asset_id, None)
            collecting.phase = Phase.CHECKING
            survivors, _ = server.close_inputs()
        noise = collecting.spec.privacy
        if noise.level == PrivacyLevel.CLIENT and len(survivors) < noise.clients:
            # each survivor added 1/clients of the noise: fewer of them would leave the
            # sum with less noise than the epsilon recorded for it
            raise SecAggAborted(
                f"Only {len(survivors)} masked updates carry noise shares; the job's privacy "
                f"needs {noise.clients}."
            )

    def _record(
        self, job: JobInfo, round: int, collecting: _Collecting, total: np.ndarray
    ) -> RoundInfo:
        spec, server = collecting.spec, collecting.server
        survivors = sorted(server.survivors or ())
        receipts = [collecting.inputs[a][1] for a in survivors]
        weight = sum(update_weight(spec, r.num_examples) for r in receipts)
        shapes = param_shapes(spec.model)
        names = sorted(shapes)
        mean = unstack(total / weight, names, [shapes[n] for n in names])
        # the server side of the strategy (plain, momentum or adaptive) works on the mean
        strategy, state = self.models.strategy(job, spec)
        global_params = self.models.global_model(job, spec)
        new_params, state = strategy.apply(state, global_params, mean)
        outcome = RoundOutcome(
            subtract(new_params, global_params), receipts,
            {collecting.inputs[a][0] for a in survivors}, spec.privacy.round_epsilon(round),
            state=state.to_params(),
        )  # fmt: skip
        return self.recorder.record(job, round, outcome)

    def _summarize(
        self, job: JobInfo, round: int, collecting: _Collecting, error: str,
        phase: Phase | None = None,
    ) -> None:  # fmt: skip
        server = collecting.server
        self.summaries[f"{job.job_id}/{round}"] = {
            "outcome": str(phase or collecting.phase),
            "shared": len(server.shares),
            "roster": len(server.roster or {}),
            "survivors": len(server.survivors or ()),
            "signed": len(server.signers or ()),
            "answered_unmask": len(server.responses),
            "reason": error,
        }


def _vector(blob: bytes, length: int) -> np.ndarray:
    return decode_tensors(blob, expected={MASKED: (length,)}, dtype=UINT32)[MASKED]


def _still_open(collecting: _Collecting) -> None:
    if not collecting.phase.open:
        raise ProtocolError("That round is closed: its sum is being computed or recorded.")


def _survivors(collecting: _Collecting) -> dict[str, Any]:
    server = collecting.server
    assert server.roster is not None and server.survivors is not None
    return {
        "survivors": [str(p) for p in sorted(server.survivors)],
        "dropped": [str(p) for p in sorted(set(server.roster) - server.survivors)],
    }


def _field(incoming: Incoming, name: str) -> dict[str, Any]:
    found = incoming.envelope.body.get(name)
    if not isinstance(found, dict):
        raise ProtocolError(f"The message carries no '{name}' object.")
    return found
