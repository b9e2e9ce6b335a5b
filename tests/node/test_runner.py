"""The job runner on a real chain (anvil, reached through a proxy a test can cut): it
survives the chain going away, says so on /health, and carries on when the chain is back;
a job that fails does not hold up the others."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from dain.data import ConsentPolicy, load_bundled, partition_stratified
from dain.devnet import Devnet
from dain.learning import ModelSpec, TrainConfig, init_params
from dain.ledger import TOKEN_UNIT, JobTerms, Ledger, RpcChain
from dain.ledger.anvil import AnvilProcess
from dain.node import Health, JobSpec, Node, NodeState, Request
from dain.storage import cid_of, encode_tensors
from tests.node.tcp_proxy import TcpProxy


@dataclass
class Running:
    net: Devnet
    direct: Ledger  # the test's own view of the chain, not through the proxy
    proxy: TcpProxy
    hospitals: list[Node]
    assets: dict[str, int]
    researcher: Node


@pytest.fixture
def running(anvil: AnvilProcess, tmp_path: Path) -> Iterator[Running]:
    proxy = TcpProxy(anvil.port)
    net = Devnet(chain=RpcChain(proxy.url, timeout=5))
    data = load_bundled("breast_cancer")
    hospitals = [net.add_node(f"h{i}", tokens=10_000) for i in range(2)]
    researcher = net.add_node("researcher", tokens=10_000)
    parts = partition_stratified(data.y, np.array([0.5, 0.5]), 1)
    assets = {h.name: h.register_asset(data.subset(p), h.name, ConsentPolicy(("diagnosis",)))
              for h, p in zip(hospitals, parts, strict=True)}  # fmt: skip
    direct = Ledger(RpcChain(anvil.url), net.deployment, net.treasury)
    threads = []
    for node in hospitals:
        runner = node.make_runner(NodeState(tmp_path / f"{node.name}.db"), poll_seconds=0.05)
        thread = threading.Thread(target=runner.run, daemon=True)
        thread.start()
        threads.append(thread)
    try:
        yield Running(net, direct, proxy, hospitals, assets, researcher)
    finally:
        for node in hospitals:
            assert node.runner is not None
            node.runner.stop()
        for thread in threads:
            thread.join(timeout=10)
        proxy.close()


def _job(r: Running, rounds: int, spec_cid: str | None = None) -> int:
    spec = JobSpec("runner", ModelSpec("logreg", 30, 2), TrainConfig(0.1, 1, 16), seed=2)
    researcher = r.researcher
    job_id = researcher.ledger.propose_job(JobTerms(
        "diagnosis", rounds, TOKEN_UNIT, spec_cid or researcher.blobs.put(spec.to_bytes()),
        researcher.blobs.put(encode_tensors(init_params(spec.model, 2))), round_duration=30,
    ))  # fmt: skip
    proposal = researcher.ledger.gov.propose_job_approval(job_id)
    r.net.pass_proposal(proposal, list(r.net.nodes.values()))
    for node in r.hospitals:
        node.enroll(job_id, r.assets[node.name])
    researcher.ledger.jobs.start(job_id)
    return job_id


def _wait(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _health(node: Node) -> tuple[int, dict]:
    import json

    response = node.handle(Request("GET", "/health"))
    return response.status, json.loads(response.body)


def test_the_runner_survives_the_chain_going_away_and_resumes(running: Running) -> None:
    r = running
    job_id = _job(r, rounds=4)
    _wait(lambda: r.direct.jobs.job(job_id).current_round >= 1, "round 1")

    r.proxy.cut()
    for node in r.hospitals:
        assert node.runner is not None
        _wait(lambda n=node: n.runner.health() is Health.FAILING, f"{node.name} to notice")
    stuck_at = r.direct.jobs.job(job_id).current_round
    status, answer = _health(r.hospitals[0])
    assert status == 503 and answer["runner"] == "failing" and answer["last_error"]

    r.proxy.restore()

    _wait(lambda: r.direct.jobs.job(job_id).current_round == 4, "the job to finish", 90)
    assert stuck_at < 4
    for node in r.hospitals:
        _wait(lambda n=node: n.runner.health() is Health.STEPPING, f"{node.name} to step")
        assert _health(node)[0] == 200
    used = {(u.round, u.asset_id) for u in r.direct.jobs.data_used(job_id=job_id)}
    assert used == {(n, a) for n in range(1, 5) for a in r.assets.values()}


def test_a_failing_job_does_not_hold_up_the_others(running: Running) -> None:
    r = running
    nowhere = cid_of(hashlib.sha256(b"a spec nobody holds").digest())
    broken = _job(r, rounds=2, spec_cid=nowhere)
    healthy = _job(r, rounds=3)

    _wait(lambda: r.direct.jobs.job(healthy).current_round == 3, "the healthy job", 90)

    assert r.direct.jobs.job(broken).current_round == 0
    for node in r.hospitals:
        assert node.runner is not None
        report = node.runner.report()
        assert report["runner"] == "stepping"
        assert "No peer could provide blob" in report["jobs"][broken]["error"]
        assert f"job {broken}, round 1" in report["last_error"]
