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
from dain.devnet.home import treasury_ledger
from dain.devnet.network import pass_proposal
from dain.learning import ModelSpec, TrainConfig, init_params
from dain.ledger import TOKEN_UNIT, JobTerms
from dain.ledger.anvil import stop_pid
from dain.node import MASKED, agreement_public_key
from dain.node.home import NodeHome
from dain.node.network_home import NetworkHome
from dain.node.spec import JobSpec, SecAggSettings
from dain.storage import FileBlobStore, decode_tensors, encode_tensors, read_metadata

pytestmark = pytest.mark.slow
HOSPITAL_COUNT = 5
ROUND_SECONDS = 12  # each stage waits up to about 2 s for the missing
ROUNDS = 6


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
    terms = JobTerms("diagnosis", ROUNDS, 10 * TOKEN_UNIT, blobs.put(spec.to_bytes()),
                     blobs.put(encode_tensors(init_params(spec.model, 3))),
                     secure_aggregation=True, round_duration=ROUND_SECONDS)  # fmt: skip
    job_id = researcher.propose_job(terms)
    proposal = researcher.gov.propose_job_approval(job_id)
    assert pass_proposal(root, proposal, list(ledgers.values())).name == "EXECUTED"
    for name in hospitals:
        key = agreement_public_key(ledgers[name], job_id, assets[name])
        ledgers[name].jobs.enroll(job_id, assets[name], key)
    researcher.jobs.start(job_id)
    jobs = root.jobs

    _wait(lambda: jobs.job(job_id).current_round >= 1, "round 1")
    assert {u.asset_id for u in jobs.data_used(job_id=job_id)} == set(assets.values())

    # freeze one node between sharing and masking, another after masking; a node is caught
    # between two stages by watching its status, which a loaded machine can miss: then
    # both go on and the next round tries again
    hit = 0
    for round_no in range(2, ROUNDS):
        _wait(lambda r=round_no: jobs.job(job_id).current_round >= r - 1, f"round {round_no - 1}")
        elected = jobs.aggregator_of(job_id, round_no)
        before, after = [n for n in hospitals if ledgers[n].address != elected][:2]

        def stage(name: str, r: int = round_no) -> str | None:
            return _status(cluster, name)["secure_stages"].get(f"{job_id}/{r}/{assets[name]:x}")

        _wait(lambda b=before: stage(b) in ("shared", "input", "unmasked"), f"{before} to share")
        os.kill(cluster.node(before).pid, signal.SIGSTOP)
        _wait(lambda a=after: stage(a) in ("input", "unmasked"), f"{after} to mask")
        os.kill(cluster.node(after).pid, signal.SIGSTOP)
        _wait(lambda r=round_no: jobs.job(job_id).current_round >= r, f"round {round_no}", 90)
        aggregator = next(n for n in hospitals if ledgers[n].address == elected)
        summary = _status(cluster, aggregator)["secure_rounds"][f"{job_id}/{round_no}"]
        assert summary["outcome"] == "summed"
        if (summary["roster"], summary["survivors"], summary["answered_unmask"]) == (5, 4, 3):
            hit = round_no
            break
        for name in (before, after):  # missed the moment: let them go on
            os.kill(cluster.node(name).pid, signal.SIGCONT)
    assert hit, "never caught a node between sharing and masking"
    cluster.kill(before)
    cluster.kill(after)
    used = {u.asset_id for u in jobs.data_used(job_id=job_id) if u.round == hit}
    assert used == set(assets.values()) - {assets[before]}  # `after` sent its update in time

    _wait(lambda: jobs.job(job_id).current_round >= hit + 1, f"round {hit + 1}", timeout=90)
    used = {u.asset_id for u in jobs.data_used(job_id=job_id) if u.round == hit + 1}
    assert used == set(assets.values()) - {assets[before], assets[after]}
    assert jobs.rounds_aborted(job_id) == []

    # nothing any aggregator stored is a participant's plain update: only masked vectors,
    # public models and their hand-outs, and documents
    for round_no in range(1, hit + 2):
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
