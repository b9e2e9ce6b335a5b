"""A secure-aggregation job across real node processes with anvil: one participant stops
after sharing its keys (before its masked update) and one after sending its masked update,
then both are killed by pid; the round is unmasked from the survivors' shares, the job goes
on, and the aggregators' stores hold no unmasked individual update.

The nodes stop through their hold hook (a file in the node's home naming the job, round and
stage), so the test waits for a state the node reports instead of racing it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

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
from dain.storage import (
    FileBlobStore,
    StorageError,
    decode_tensors,
    encode_tensors,
    read_metadata,
)

pytestmark = pytest.mark.slow
HOSPITAL_COUNT = 5
ROUND_SECONDS = 12  # each stage waits up to about 2 s for the missing
ROUNDS = 4
HELD_ROUND = 2


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cluster = Cluster(NetworkHome(tmp_path_factory.mktemp("secure")))
    cluster.up(HOSPITAL_COUNT)
    pids = [n.pid for n in cluster.nodes()]
    try:
        yield cluster
    finally:
        cluster.down()
        for pid in pids:
            stop_pid(pid)


def _status(cluster: Cluster, name: str) -> dict:
    with cluster.node(name).client(timeout=5) as client:  # HTTPS, its home's certificate
        return client.get("/status").json()


def _hold(cluster: Cluster, name: str, job_id: int, after: str) -> None:
    hold = NodeHome(Path(cluster.node(name).home)).hold
    hold.write_text(json.dumps({"job": job_id, "round": HELD_ROUND, "after": after}))


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
    # two participants stop in round 2: one after sharing its keys, one after sending its
    # masked update; whoever is elected, the aggregator then has 5 shares, 4 masked
    # updates and 3 answers to its unmask request
    before, after = hospitals[:2]
    _hold(cluster, before, job_id, "shared")
    _hold(cluster, after, job_id, "input")
    researcher.jobs.start(job_id)
    jobs = root.jobs

    _wait(lambda: jobs.job(job_id).current_round >= 1, "round 1")
    assert {u.asset_id for u in jobs.data_used(job_id=job_id)} == set(assets.values())

    key = f"{job_id}/{HELD_ROUND}"
    _wait(lambda: _status(cluster, before)["secure_held"].get(f"{key}/0x{assets[before]:064x}")
          == "shared", f"{before} to hold after sharing")  # fmt: skip
    _wait(lambda: _status(cluster, after)["secure_held"].get(f"{key}/0x{assets[after]:064x}")
          == "input", f"{after} to hold after its masked update")  # fmt: skip
    _wait(lambda: jobs.job(job_id).current_round >= HELD_ROUND, f"round {HELD_ROUND}", 90)
    aggregator = next(n for n in hospitals
                      if ledgers[n].address == jobs.round_record(job_id, HELD_ROUND).aggregator)
    summary = _status(cluster, aggregator)["secure_rounds"][key]
    assert summary["outcome"] == "summed"
    assert (summary["roster"], summary["survivors"], summary["answered_unmask"]) == (5, 4, 3)
    cluster.kill(before)
    cluster.kill(after)
    used = {u.asset_id for u in jobs.data_used(job_id=job_id) if u.round == HELD_ROUND}
    assert used == set(assets.values()) - {assets[before]}  # `after` sent its update in time

    hit = HELD_ROUND
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
            except StorageError:  # a document (spec, manifest, policy), not tensors
                continue
            if set(tensors) == {MASKED}:
                assert tensors[MASKED].dtype.name == "uint32"
            elif read_metadata(raw).get("kind") != "model-delta":
                assert all(t.dtype.name == "float32" for t in tensors.values()), path.name
