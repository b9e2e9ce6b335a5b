"""The job runner: follows chain state and drives the round protocol for every job this
node takes part in, as participant and, when elected, as aggregator. It keeps what it
trained and delivered in the state database, so a restart resumes without doing either
twice.

Nothing a step raises stops the runner. When the chain cannot be read the runner backs off
and its health says it is not stepping until a step works again; when one job's step fails,
the failure is logged with the job and round and that job alone is retried later, so one
broken job never holds up the others."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dain.costs import OUTSIDE, attribute, belongs_to, span
from dain.data import format_asset_id
from dain.errors import DainError
from dain.ledger import JobInfo, JobStatus
from dain.node.aggregator import Aggregator
from dain.node.auto_enroll import AutoEnroller
from dain.node.blob_access import BlobAccess
from dain.node.context import LocalAsset, NodeContext
from dain.node.errors import PeerConflict, PeerError, PeerNotReady, PeerUnavailable
from dain.node.evaluation import Evaluation
from dain.node.job_finder import JobFinder
from dain.node.models import JobModels
from dain.node.participant import Participant, TrainedUpdate
from dain.node.secure_aggregator import SecureAggregator
from dain.node.secure_participant import SecureParticipant
from dain.node.state import NodeState, StoredUpdate
from dain.node.training import LocalTrainer

log = logging.getLogger(__name__)
# a peer that is down, busy or not there yet may answer the same message later
TRY_AGAIN = (PeerUnavailable, PeerNotReady, PeerConflict)
MAX_BACKOFF_SECONDS = 5.0
RECENT_ROUNDS = 20
COLLECT_EVERY_SECONDS = 60.0  # how often finished jobs' blobs are looked at for retention
_EXPECTED = (DainError,)  # failures of the world outside (chain, peers), not of this code


class Health(StrEnum):
    STARTING = "starting"  # has not finished a step yet
    STEPPING = "stepping"
    FAILING = "failing"  # its steps raise: see last_error; it backs off and tries again
    STALLED = "stalled"  # no step has finished for too long
    STOPPED = "stopped"

    @property
    def ok(self) -> bool:
        return self in (Health.STARTING, Health.STEPPING)


@dataclass
class RunnerStatus:
    jobs: dict[int, dict[str, object]] = field(default_factory=dict)
    rounds_aggregated: int = 0
    updates_delivered: int = 0
    train_seconds: dict[str, float] = field(default_factory=dict)  # "job/round" -> seconds
    last_error: str = ""
    failures: int = 0  # steps failed in a row (the chain could not be read, say)
    last_step_at: float | None = None  # monotonic time the last step finished, failed or not
    training: str = ""  # what it trains now: a step may take as long as training does


@dataclass(frozen=True)
class Roles:
    """The parts of a node the runner drives."""

    trainer: LocalTrainer
    participant: Participant
    secure_participant: SecureParticipant
    aggregator: Aggregator
    secure_aggregator: SecureAggregator
    models: JobModels
    blob_access: BlobAccess


class JobRunner:
    def __init__(
        self,
        ctx: NodeContext,
        roles: Roles,
        state: NodeState,
        poll_seconds: float = 0.3,
        stall_seconds: float = 60.0,
    ) -> None:
        self.ctx = ctx
        self.roles = roles
        self.state = state
        self.poll_seconds = poll_seconds
        self.stall_seconds = stall_seconds
        self.status = RunnerStatus()
        self.finder = JobFinder(ctx.ledger)
        self.auto_enroll: AutoEnroller | None = None  # set when node.toml opts in
        self.evaluator: Evaluation | None = None  # set by the node: scores recorded rounds
        self._stop = threading.Event()
        self._finished: set[int] = set()
        self._job_failures: dict[int, tuple[int, float]] = {}  # job -> (in a row, retry at)
        self._rounds: dict[int, tuple[int, str]] = {}  # job -> (round collecting, its model)
        self._recorded = threading.Event()
        self._running = False  # whether `run` is looping (in its thread)
        self._collected = 0.0  # when finished jobs' blobs were last collected (monotonic)

    # ---- health ----------------------------------------------------------------------

    def health(self) -> Health:
        status = self.status
        if self._stop.is_set():
            return Health.STOPPED
        if status.last_step_at is not None and not self._running:
            return Health.STALLED  # its loop has ended without being asked to stop
        if status.failures:
            return Health.FAILING
        if status.last_step_at is None:
            return Health.STARTING
        idle = time.monotonic() - status.last_step_at
        stalled = idle > self.stall_seconds and not status.training
        return Health.STALLED if stalled else Health.STEPPING

    def report(self) -> dict[str, Any]:
        status = self.status
        since = None if status.last_step_at is None else time.monotonic() - status.last_step_at
        return {
            "runner": str(self.health()),
            "seconds_since_step": None if since is None else round(since, 3),
            "failed_steps_in_a_row": status.failures,
            "training": status.training,
            # copies (each made in one step under the GIL): the runner thread changes them
            "jobs": {job: dict(found) for job, found in list(status.jobs.items())},
            "updates_delivered": status.updates_delivered,
            "rounds_aggregated": status.rounds_aggregated,
            "deliveries_recorded": self.state.deliveries(),
            "last_error": status.last_error,
            "train_seconds": dict(status.train_seconds),
            # "job/round" (or "" for no round) -> category -> seconds and count
            "costs": self.ctx.costs.snapshot(),
        }

    # ---- the loop --------------------------------------------------------------------

    def run(self) -> None:
        self._running = True
        try:
            woken, last_block, last_step = True, -1, 0.0
            while not self._stop.is_set():
                try:
                    # a full step costs a dozen chain reads: only when a peer wrote to us,
                    # a block was mined, or time alone may have changed the election
                    with attribute(self.ctx.costs, self._waiting_for()):
                        block = self.ctx.ledger.block_number()
                    roles = self.roles
                    busy = roles.secure_participant.busy() or roles.secure_aggregator.busy()
                    if woken or busy or block != last_block or time.monotonic() - last_step >= 1:
                        last_block, last_step = block, time.monotonic()
                        self.step()
                    if time.monotonic() - self._collected >= COLLECT_EVERY_SECONDS:
                        self._collected = time.monotonic()
                        self.roles.blob_access.collect()
                    self._stepped()
                    woken = self._wait()
                except Exception as exc:  # the chain, a peer or a bug: report, back off, go on
                    self._failed(exc, "")
                    self._back_off()
                    woken = True  # then a full step: only a step that works clears the failure
        finally:
            self._running = False

    def _waiting_for(self) -> str:
        """The round a wait counts for (dain.costs): the one the node is in, if it is in
        one job's only; with several, the wait is theirs together and no one round's."""
        rounds = [f"{job}/{found[0]}" for job, found in self._rounds.items()
                  if job not in self._finished]  # fmt: skip
        return rounds[0] if len(rounds) == 1 else OUTSIDE

    def _wait(self) -> bool:
        """Waits for a reason to step again; whether a peer (or a recorded round) woke us."""
        with attribute(self.ctx.costs, self._waiting_for()), span("wait"):
            return self._wait_for_reason()

    def _wait_for_reason(self) -> bool:
        signals = self.ctx.signals
        if self._recorded.is_set():  # we just recorded a round: start the next at once
            self._recorded.clear()
            return True
        if signals.handout.is_set():
            signals.handout.clear()
            self._await_record()
            return True
        # a peer's blob or update wakes us at once; otherwise read the chain again soon
        woken = signals.activity.wait(self.poll_seconds)
        signals.activity.clear()
        return woken

    def stop(self) -> None:
        self._stop.set()
        self.ctx.signals.activity.set()

    def _stepped(self) -> None:
        self.status.last_step_at = time.monotonic()
        self.status.failures = 0

    def _failed(self, exc: Exception, where: str) -> None:
        status = self.status
        status.failures += 1
        status.last_step_at = time.monotonic()
        self._report(exc, where)

    def _report(self, exc: Exception, where: str) -> None:
        self.status.last_error = f"{where}{str(exc) or type(exc).__name__}"
        # a bug deserves its traceback in the log; the chain or a peer failing does not
        log.warning("%s: %s%s", self.ctx.name, where, exc,
                    exc_info=not isinstance(exc, _EXPECTED))  # fmt: skip

    def _back_off(self) -> None:
        """Waits longer after each failed step in a row (up to a few seconds); a stop
        request ends the wait early."""
        delay = min(MAX_BACKOFF_SECONDS, self.poll_seconds * 2 ** min(self.status.failures, 8))
        with attribute(self.ctx.costs, self._waiting_for()), span("wait"):
            self._stop.wait(delay)

    def _await_record(self, quick: float = 0.02, patience: float = 2.0) -> None:
        """An aggregator handed us a round's model and is recording the round now: watch
        for it closely (one cheap read each time), so the next round starts without
        waiting out a poll interval."""
        # only rounds whose model the hand-out builds on: the round we are in is ending
        waiting = {
            job_id: round_no
            for job_id, (round_no, model_cid) in self._rounds.items()
            if job_id not in self._finished and self.roles.models.handed_out(model_cid)
        }
        deadline = time.monotonic() + patience
        seen = -1
        jobs = self.ctx.ledger.jobs
        while waiting and time.monotonic() < deadline and not self._stop.is_set():
            block = self.ctx.ledger.block_number()
            if block != seen:
                seen = block
                if any(jobs.job(j).current_round >= r for j, r in waiting.items()):
                    return
            time.sleep(quick)

    # ---- one step ----------------------------------------------------------------------

    def step(self) -> None:
        """One pass over the jobs this node's assets were enrolled in. A job whose step
        fails does not hold up the others: its failure is logged with the job and round,
        and it is tried again after a pause that grows while it keeps failing."""
        with attribute(self.ctx.costs):  # finding, enrolling, scoring: no one round's work
            self._step_jobs()

    def _step_jobs(self) -> None:
        jobs = self.ctx.ledger.jobs
        if self.auto_enroll is not None:  # first: a job it enrolls in is found below at once
            self.auto_enroll.step()
        for job_id in self.finder.jobs(list(self.ctx.assets)):
            if job_id in self._finished:
                continue
            failed_before, retry_at = self._job_failures.get(job_id, (0, 0.0))
            if time.monotonic() < retry_at:
                continue
            with attribute(self.ctx.costs):  # the open round's work, once the job is read
                job = jobs.job(job_id)
                if job.status in (JobStatus.COMPLETED, JobStatus.CANCELLED) or (
                    job.status == JobStatus.RUNNING and job.current_round >= job.rounds
                ):
                    self._finished.add(job_id)  # nothing more to train or record, ever
                    if job_id in self.status.jobs:
                        running = job.status == JobStatus.RUNNING
                        over = "its last round is recorded" if running else job.status.name
                        log.info("%s: job %d is over: %s", self.ctx.name, job_id, over.lower())
                    self.roles.secure_aggregator.forget_before(job_id, 2**32)
                    self.roles.secure_participant.forget_job(job_id)
                    continue
                if job.status != JobStatus.RUNNING:
                    continue
                belongs_to(f"{job_id}/{job.current_round + 1}")
                if not self._involved(job):
                    continue
                try:
                    self._step_job(job)
                except Exception as exc:
                    self._report(exc, f"job {job_id}, round {job.current_round + 1}: ")
                    pause = min(MAX_BACKOFF_SECONDS,
                                self.poll_seconds * 2 ** min(failed_before, 8))  # fmt: skip
                    self._job_failures[job_id] = (failed_before + 1, time.monotonic() + pause)
                    found = dict(self.status.jobs.get(job_id, {}))
                    self.status.jobs[job_id] = found | {"error": str(exc)}
                else:
                    self._job_failures.pop(job_id, None)
        if self.evaluator is not None:  # after training: scores the rounds recorded since
            self.evaluator.step(self.finder.jobs(list(self.ctx.assets)))

    def _involved(self, job: JobInfo) -> bool:
        return bool(set(self.ctx.assets) & set(self.ctx.chain.enrolled(job)))

    def _step_job(self, job: JobInfo) -> None:
        ctx, roles = self.ctx, self.roles
        round_no = job.current_round + 1
        now = ctx.clock.now()
        aggregator = ctx.ledger.jobs.aggregator_at(job.job_id, round_no, now)
        self._rounds[job.job_id] = (round_no, job.model_cid)
        eligible = roles.trainer.eligible_assets(job)
        self._publish(job, round_no, aggregator, eligible)
        if job.secure_aggregation:
            roles.secure_aggregator.forget_before(job.job_id, round_no)
            self._step_secure(job, round_no, eligible, aggregator)
        else:
            roles.aggregator.forget_before(job.job_id, round_no)
            for asset in eligible:
                self._step_plain(job, round_no, asset, aggregator)
        if aggregator != ctx.address:
            return
        if job.secure_aggregation:
            expected = ctx.chain.live_assets(job, round_no)
            if roles.secure_aggregator.progress(job, round_no, now, expected) is not None:
                self.status.rounds_aggregated += 1
                self._recorded.set()
        else:
            self._maybe_finish(job, round_no, now)

    def _publish(
        self, job: JobInfo, round_no: int, aggregator: str, eligible: list[LocalAsset]
    ) -> None:
        """Says what the node does in the job before doing it (training takes a while, and
        the status must show it meanwhile), and logs joining it and each failover."""
        name, before = self.ctx.name, self.status.jobs.get(job.job_id)
        if before is None or "round" not in before:  # (a failed first step left only its error)
            log.info("%s: taking part in job %d (purpose %s, round %d of %d) with %d asset(s)",
                     name, job.job_id, job.purpose, round_no, job.rounds,
                     len(eligible))  # fmt: skip
        elif before.get("round") == round_no and before.get("aggregator") != aggregator:
            log.warning("%s: job %d, round %d: aggregator %s missed its turn; the round fails "
                        "over to %s", name, job.job_id, round_no, before.get("aggregator"),
                        aggregator)  # fmt: skip
        self.status.jobs[job.job_id] = {"round": round_no, "aggregator": aggregator,
                                        "assets_taking_part": len(eligible)}  # fmt: skip

    def _step_plain(self, job: JobInfo, round_no: int, asset: LocalAsset, aggregator: str) -> None:
        """Trains the asset's update once (kept in the state database) and delivers it to
        the round's aggregator, once per aggregator."""
        state, job_id = self.state, job.job_id
        if state.delivered(job_id, round_no, asset.asset_id, aggregator):
            return
        stored = state.update(job_id, round_no, asset.asset_id)
        if stored is None:
            self.status.training = (
                f"job {job_id}, round {round_no}, asset {format_asset_id(asset.asset_id)}"
            )
            began = time.perf_counter()
            try:
                made = self.roles.participant.make_update(job, round_no, asset)
            finally:
                self.status.training = ""
            timings = self.status.train_seconds
            timings[f"{job_id}/{round_no}"] = time.perf_counter() - began
            for old in list(timings)[:-RECENT_ROUNDS]:  # a long-running node keeps the last few
                del timings[old]
            stored = StoredUpdate(made.update_cid, made.num_examples, made.receipt_signature)
            state.save_update(job_id, round_no, asset.asset_id, stored)
            log.info("%s: job %d, round %d: trained asset %s on %d examples in %.1f s",
                     self.ctx.name, job_id, round_no, _short(asset.asset_id), made.num_examples,
                     timings[f"{job_id}/{round_no}"])  # fmt: skip
        update = TrainedUpdate(asset.asset_id, stored.update_cid, stored.num_examples,
                               stored.receipt_signature)  # fmt: skip
        try:
            self.roles.participant.deliver(aggregator, job_id, round_no, update)
            self.status.updates_delivered += 1
            self._delivered(job_id, round_no, asset.asset_id, aggregator)
        except TRY_AGAIN as exc:  # down, slow or not yet ready: retry, or fail over
            log.info("%s: delivery to %s failed: %s", self.ctx.name, aggregator, exc)
            return
        except PeerError as exc:  # the aggregator refused the update itself: sending it
            self.status.last_error = str(exc)  # again cannot help
            log.warning("%s: %s", self.ctx.name, exc)
        state.mark_delivered(job_id, round_no, asset.asset_id, aggregator)

    def _step_secure(
        self, job: JobInfo, round_no: int, eligible: list[LocalAsset], aggregator: str
    ) -> None:
        """Moves each asset's part in a secure round on by one stage. A masked update is
        sent once: after a restart the round's secrets are gone and the asset sits out."""
        secure, job_id = self.roles.secure_participant, job.job_id
        for asset in eligible:
            sent = self.state.delivered(job_id, round_no, asset.asset_id, aggregator)
            if sent and not secure.holds(job_id, round_no, asset.asset_id, aggregator):
                continue
            self.status.training = (
                f"job {job_id}, round {round_no}, asset {format_asset_id(asset.asset_id)}"
            )
            try:
                progress = secure.step(job, round_no, asset, aggregator)  # trains at its first
            except TRY_AGAIN as exc:
                log.info("%s: secure round at %s: %s", self.ctx.name, aggregator, exc)
                continue
            except DainError as exc:  # refused, or the aggregator's answer does not hold up
                self.status.last_error = str(exc)
                log.warning("%s: sits out round %d of job %d: %s", self.ctx.name, round_no,
                            job_id, exc)  # fmt: skip
                secure.give_up(job_id, round_no, asset.asset_id)
                continue
            finally:
                self.status.training = ""
            if progress.sent_update:
                self.state.mark_delivered(job_id, round_no, asset.asset_id, aggregator)
                self.status.updates_delivered += 1
                self._delivered(job_id, round_no, asset.asset_id, aggregator, " (masked)")

    def _maybe_finish(self, job: JobInfo, round_no: int, now: float) -> None:
        """Records the round once every live sampled participant's update arrived, or when
        half of this attempt's window has passed with at least one update (at least the
        spec's minimum of participants, or the whole sample when it is smaller). A round
        whose sample holds no asset is aborted at once."""
        aggregator, chain = self.roles.aggregator, self.ctx.chain
        received = aggregator.received(job.job_id, round_no)
        minimum = self.roles.models.spec(job).min_participants
        drawn = len(chain.sample(job, round_no, chain.enrolled(job)))
        if job.sampling:
            if drawn == 0:
                if aggregator.finish_round(job.job_id, round_no) is not None:  # aborts it
                    self._recorded.set()
                return
            minimum = min(minimum, drawn)  # a sample smaller than the minimum: all of it
        if received == 0 or received < minimum:
            return
        # every sampled asset sent its update: nothing more can come, so no need to read
        # how many have live consent (the aggregation reads each one's consent anyway)
        expected = drawn if received >= drawn else chain.live_assets(job, round_no)
        into_attempt = (now - job.round_opened_at) % job.round_duration
        ready = received >= expected or into_attempt >= job.round_duration / 2
        if ready and aggregator.finish_round(job.job_id, round_no) is not None:
            self.status.rounds_aggregated += 1
            self._recorded.set()

    def _delivered(self, job_id: int, round_no: int, asset_id: int, to: str, how: str = "") -> None:
        whom = "itself, the aggregator" if to == self.ctx.address else f"aggregator {to}"
        log.info("%s: job %d, round %d: delivered asset %s's update%s to %s", self.ctx.name,
                 job_id, round_no, _short(asset_id), how, whom)  # fmt: skip


def _short(asset_id: int) -> str:
    return f"{asset_id:#066x}"[:14] + "…"
