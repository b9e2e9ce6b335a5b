"""A secure-aggregation job across real node processes with anvil: one participant is
stopped after sharing its keys (before its masked update) and one after sending its masked
update, then both are killed by pid; the round is unmasked from the survivors' shares, the
job goes on, and the aggregators' stores hold no unmasked individual update."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dain.devnet.cluster import HOSPITALS, RESEARCHER, Cluster
from dain.devnet.cluster_story import member_ledger
from dain.devnet.home import NetworkHome, treasury_ledger
from dain.devnet.network import pass_proposal
from dain.learning import ModelSpec, TrainConfig, init_params
from dain.ledger import TOKEN_UNIT, JobTerms
from dain.ledger.anvil import stop_pid
from dain.node.home import NodeHome
from dain.node.secure import MASKED, agreement_public_key
from dain.node.spec import JobSpec, SecAggSettings
from dain.storage import FileBlobStore, decode_tensors, encode_tensors, read_metadata

pytestmark = pytest.mark.slow
HOSPITAL_COUNT = 5
ROUND_SECONDS = 12  # keys close at 2.4 s, masked updates at 4.2 s, unmasking at 6 s


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    # nodes poll every half second, so a test can catch one between two stages
    cluster = Cluster(NetworkHome(tmp_path_factory.mktemp("secure")), poll_seconds=0.5)
    cluster.up(HOSPITAL_COUNT)
    pids = [n.pid for n in cluster.nodes()]
    try:
        yield cluster
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):  # stopped ones must run to stop
                os.kill(pid, signal.SIGCONT)
        cluster.down()
        for pid in pids:
            stop_pid(pid)


def _status(cluster: Cluster, name: str) -> dict:
    return httpx.get(f"{cluster.node(name).endpoint}/status", timeout=5).json()


def _wait(condition, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_secure_job_survives_clients_killed_before_and_after_their_masked_update(
    cluster: Cluster,
) -> None:
    root = treasury_ledger(cluster.home, cluster.password)
    ledgers = {n.name: member_ledger(cluster, n.name, root) for n in cluster.nodes()}
    hospitals = list(HOSPITALS[:HOSPITAL_COUNT])
    assets = {name: int(_status(cluster, name)["assets"][0], 16) for name in hospitals}
    researcher = ledgers[RESEARCHER]
    spec = JobSpec("secure", ModelSpec("logreg", 30, 2), TrainConfig(0.1, 1, 16), seed=3,
                   secagg=SecAggSettings(threshold=3))  # fmt: skip
    blobs = FileBlobStore(NodeHome(Path(cluster.node(RESEARCHER).home)).blobs)
    terms = JobTerms("diagnosis", 3, 10 * TOKEN_UNIT, blobs.put(spec.to_bytes()),
                     blobs.put(encode_tensors(init_params(spec.model, 3))),
                     secure_aggregation=True, round_duration=ROUND_SECONDS)  # fmt: skip
    job_id = researcher.jobs.propose(terms)
    proposal = researcher.gov.propose_job_approval(job_id)
    assert pass_proposal(root, proposal, list(ledgers.values())).name == "EXECUTED"
    for name in hospitals:
        key = agreement_public_key(ledgers[name], job_id, assets[name])
        ledgers[name].jobs.enroll(job_id, assets[name], key)
    researcher.jobs.start(job_id)
    jobs = root.jobs

    _wait(lambda: jobs.job(job_id).current_round >= 1, "round 1")
    assert {u.asset_id for u in jobs.data_used(job_id=job_id)} == set(assets.values())

    # round 2: freeze one node between sharing and masking, another after masking
    elected = jobs.aggregator_of(job_id, 2)
    others = [n for n in hospitals if ledgers[n].address != elected]
    before, after = others[0], others[1]

    def stage(name: str) -> str | None:
        return _status(cluster, name)["secure_stages"].get(f"{job_id}/2/{assets[name]:x}")

    _wait(lambda: stage(before) == "shared", f"{before} to share its keys")
    os.kill(cluster.node(before).pid, signal.SIGSTOP)
    _wait(lambda: stage(after) == "input", f"{after} to send its masked update")
    os.kill(cluster.node(after).pid, signal.SIGSTOP)
    _wait(lambda: jobs.job(job_id).current_round >= 2, "round 2", timeout=90)
    cluster.kill(before)
    cluster.kill(after)

    aggregator = next(n for n in hospitals if ledgers[n].address == elected)
    summary = _status(cluster, aggregator)["secure_rounds"][f"{job_id}/2"]
    assert summary["outcome"] == "summed"
    assert (summary["roster"], summary["survivors"], summary["answered_unmask"]) == (5, 4, 3)
    round_2 = {u.asset_id for u in jobs.data_used(job_id=job_id) if u.round == 2}
    assert round_2 == set(assets.values()) - {assets[before]}  # `after` sent its update in time

    _wait(lambda: jobs.job(job_id).current_round >= 3, "round 3", timeout=90)
    round_3 = {u.asset_id for u in jobs.data_used(job_id=job_id) if u.round == 3}
    assert round_3 == set(assets.values()) - {assets[before], assets[after]}
    assert jobs.rounds_aborted(job_id) == []

    # nothing any aggregator stored is a participant's plain update: only masked vectors,
    # public models and their hand-outs, and documents
    for round_no in (1, 2, 3):
        by = jobs.round_record(job_id, round_no).aggregator
        name = next(n for n in hospitals if ledgers[n].address == by)
        for path in (Path(cluster.node(name).home) / "blobs").rglob("*"):
            if not path.is_file():
                continue
            raw = path.read_bytes()
            try:
                tensors = decode_tensors(raw, dtype=None)
            except Exception:
                continue
            if set(tensors) == {MASKED}:
                assert tensors[MASKED].dtype.name == "uint32"
            elif read_metadata(raw).get("kind") != "model-delta":
                assert all(t.dtype.name == "float32" for t in tensors.values()), path.name
