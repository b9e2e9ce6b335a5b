"""The job runner: follows chain state and drives the round protocol for every job this
node takes part in, as participant and, when elected, as aggregator. It keeps what it
trained and delivered in the state database, so a restart resumes without doing either
twice."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from dain.errors import DainError
from dain.ledger import JobInfo, JobStatus
from dain.node.errors import PeerError
from dain.node.node import LocalAsset, Node
from dain.node.rounds import TrainedUpdate
from dain.node.state import NodeState, StoredUpdate

log = logging.getLogger(__name__)


@dataclass
class RunnerStatus:
    jobs: dict[int, dict[str, object]] = field(default_factory=dict)
    rounds_aggregated: int = 0
    updates_delivered: int = 0
    train_seconds: dict[str, float] = field(default_factory=dict)  # "job/round" -> seconds
    last_error: str = ""


class JobRunner:
    def __init__(self, node: Node, state: NodeState, poll_seconds: float = 0.3) -> None:
        self.node = node
        self.state = state
        self.poll_seconds = poll_seconds
        self.status = RunnerStatus()
        self._stop = threading.Event()
        self._finished: set[int] = set()
        self._rounds: dict[int, tuple[int, str]] = {}  # job -> (round collecting, its model)
        self._recorded = threading.Event()
        # (job, round) -> (when read, assets with live consent)
        self._expected: dict[tuple[int, int], tuple[float, int]] = {}

    def run(self) -> None:
        woken, last_block, last_step = True, -1, 0.0
        while not self._stop.is_set():
            try:
                # a full step costs a dozen chain reads: only when a peer wrote to us, a
                # block was mined, or time alone may have changed the election
                block = self.node.ledger.block_number()
                busy = self.node.secure_participant.busy() or self.node.secure_aggregator.busy()
                idle_for = time.monotonic() - last_step
                if woken or busy or block != last_block or idle_for >= 1.0:
                    last_block, last_step = block, time.monotonic()
                    self.step()
            except DainError as exc:  # the chain or a peer misbehaved: report, keep going
                self.status.last_error = str(exc)
                log.warning("%s: %s", self.node.name, exc)
            if self._recorded.is_set():  # we just recorded a round: start the next at once
                self._recorded.clear()
                woken = True
                continue
            if self.node.rounds.handout.is_set():
                self.node.rounds.handout.clear()
                self._await_record()
                woken = True
                continue
            # a peer's blob or update wakes us at once; otherwise read the chain again soon
            woken = self.node.activity.wait(self.poll_seconds)
            self.node.activity.clear()

    def _await_record(self, quick: float = 0.02, patience: float = 2.0) -> None:
        """An aggregator handed us a round's model and is recording the round now: watch
        for it closely (one cheap read each time), so the next round starts without
        waiting out a poll interval."""
        # only rounds whose model the hand-out builds on: the round we are in is ending
        waiting = {
            job_id: round_no
            for job_id, (round_no, model_cid) in self._rounds.items()
            if job_id not in self._finished and self.node.rounds.handed_out(model_cid)
        }
        deadline = time.monotonic() + patience
        seen = -1
        while waiting and time.monotonic() < deadline and not self._stop.is_set():
            block = self.node.ledger.block_number()
            if block != seen:
                seen = block
                jobs = self.node.ledger.jobs
                if any(jobs.job(j).current_round >= r for j, r in waiting.items()):
                    return
            time.sleep(quick)

    def stop(self) -> None:
        self._stop.set()
        self.node.activity.set()

    def step(self) -> None:
        jobs = self.node.ledger.jobs
        for job_id in range(1, jobs.count() + 1):
            if job_id in self._finished:
                continue
            job = jobs.job(job_id)
            if job.status in (JobStatus.COMPLETED, JobStatus.CANCELLED) or (
                job.status == JobStatus.RUNNING and job.current_round >= job.rounds
            ):
                self._finished.add(job_id)  # nothing more to train or record, ever
                self.node.secure_aggregator.forget_before(job_id, 2**32)
                self.node.secure_participant.forget_job(job_id)
            elif job.status == JobStatus.RUNNING and self._involved(job):
                self._step_job(job)

    def _involved(self, job: JobInfo) -> bool:
        return bool(set(self.node.assets) & set(self.node.rounds.enrolled(job)))

    def _step_job(self, job: JobInfo) -> None:
        rounds = self.node.rounds
        round_no = job.current_round + 1
        now = rounds.clock()
        aggregator = self.node.ledger.jobs.aggregator_at(job.job_id, round_no, now)
        self._rounds[job.job_id] = (round_no, job.model_cid)
        eligible = rounds.eligible_assets(job)
        if job.secure_aggregation:
            self.node.secure_aggregator.forget_before(job.job_id, round_no)
            self._step_secure(job, round_no, eligible, aggregator)
            eligible = []
        for asset in eligible:
            if self.state.delivered(job.job_id, round_no, asset.asset_id, aggregator):
                continue
            stored = self.state.update(job.job_id, round_no, asset.asset_id)
            if stored is None:
                began = time.perf_counter()
                made = rounds.make_update(job, round_no, asset)
                self.status.train_seconds[f"{job.job_id}/{round_no}"] = time.perf_counter() - began
                stored = StoredUpdate(made.update_cid, made.num_examples, made.receipt_signature)
                self.state.save_update(job.job_id, round_no, asset.asset_id, stored)
            update = TrainedUpdate(asset.asset_id, stored.update_cid, stored.num_examples,
                                   stored.receipt_signature)  # fmt: skip
            try:
                rounds.deliver(aggregator, job.job_id, round_no, update)
                self.status.updates_delivered += 1
            except PeerError as exc:
                if exc.peer_status != 400:  # down, slow or not yet ready: retry, or fail over
                    log.info("%s: delivery to %s failed: %s", self.node.name, aggregator, exc)
                    continue
                # the aggregator refused the update itself: sending it again cannot help
                self.status.last_error = str(exc)
                log.warning("%s: %s", self.node.name, exc)
            self.state.mark_delivered(job.job_id, round_no, asset.asset_id, aggregator)
        self.status.jobs[job.job_id] = {"round": round_no, "aggregator": aggregator,
                                        "assets_taking_part": len(eligible)}  # fmt: skip
        if aggregator != self.node.address:
            return
        if job.secure_aggregation:
            expected = self._expected_updates(job, round_no)
            if self.node.secure_aggregator.progress(job, round_no, now, expected) is not None:
                self.status.rounds_aggregated += 1
                self._recorded.set()
        else:
            self._maybe_finish(job, round_no, now)

    def _step_secure(
        self, job: JobInfo, round_no: int, eligible: list[LocalAsset], aggregator: str
    ) -> None:
        """Moves each asset's part in a secure round on by one stage. A masked update is
        sent once: after a restart the round's secrets are gone and the asset sits out."""
        secure = self.node.secure_participant
        for asset in eligible:
            sent = self.state.delivered(job.job_id, round_no, asset.asset_id, aggregator)
            if sent and not secure.holds(job.job_id, round_no, asset.asset_id, aggregator):
                continue
            try:
                stage = secure.step(job, round_no, asset, aggregator)
            except PeerError as exc:
                if exc.peer_status in (None, 409, 502, 503):  # down or not ready: try again
                    log.info("%s: secure round at %s: %s", self.node.name, aggregator, exc)
                    continue
                self.status.last_error = str(exc)
                log.warning("%s: %s", self.node.name, exc)
                secure.give_up(job.job_id, round_no, asset.asset_id)
                continue
            if stage == "sent":
                self.state.mark_delivered(job.job_id, round_no, asset.asset_id, aggregator)
                self.status.updates_delivered += 1

    def _maybe_finish(self, job: JobInfo, round_no: int, now: float) -> None:
        """Records the round once every live participant's update arrived, or when half
        of this attempt's window has passed with at least one update."""
        received = self.node.rounds.received(job.job_id, round_no)
        if received == 0:
            return
        expected = self._expected_updates(job, round_no)
        into_attempt = (now - job.round_opened_at) % job.round_duration
        ready = received >= expected or into_attempt >= job.round_duration / 2
        if ready and self.node.rounds.finish_round(job.job_id, round_no) is not None:
            self.status.rounds_aggregated += 1
            self._recorded.set()

    def _expected_updates(self, job: JobInfo, round_no: int, fresh: float = 1.0) -> int:
        """How many enrolled assets have live consent; read again at most every `fresh`
        seconds while updates come in, since each read is one chain call per asset."""
        key = (job.job_id, round_no)
        read_at, count = self._expected.get(key, (-fresh, 0))
        if time.monotonic() - read_at >= fresh:
            count = sum(
                1 for asset_id in self.node.rounds.enrolled(job)
                if self.node.ledger.jobs.consent(job, asset_id) == "allowed"
            )  # fmt: skip
            self._expected = {key: (time.monotonic(), count)}
        return count
