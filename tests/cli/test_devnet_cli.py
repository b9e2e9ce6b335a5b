"""`dain devnet up|demo|down` and `dain node status` as a user runs them: the demo runs
again on the same devnet, and a devnet stopped starts again, leaving no process behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dain.identity import Identity
from dain.ledger import Deployment, Ledger, RpcChain
from dain.ledger.anvil import stop_pid

pytestmark = pytest.mark.slow
NAMES = ["st-mary", "city-general", "north-clinic", "lakeside", "researcher"]


def _run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dain", *args], capture_output=True, text=True, timeout=timeout,
        env=os.environ | {"DAIN_PASSWORD": "devnet"},
    )  # fmt: skip


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _pids(home: Path, started: list[dict]) -> list[int]:
    """Every pid of the devnet: its chain's, and each node's as `devnet up` printed it and
    as the node wrote it in its pid file."""
    chain = json.loads((home / "chain.json").read_text())["pid"]
    files = [int((home / "nodes" / n["name"] / "node.pid").read_text()) for n in started]
    assert files == [n["pid"] for n in started]
    return [chain, *files]


def _escrowed(home: Path) -> int:
    """Tokens the Jobs contract holds: pools of jobs not closed, and rewards not claimed."""
    url = json.loads((home / "chain.json").read_text())["url"]
    deployment = Deployment.load(home / "deployment.json")
    ledger = Ledger(RpcChain(url), deployment, Identity.create())
    return ledger.token.balance_of(deployment.jobs)


def test_devnet_runs_the_demo_across_node_processes(tmp_path: Path) -> None:
    home = tmp_path / "devnet"
    up = _run("devnet", "up", "--nodes", "4", "--home", str(home), "--json")
    nodes = json.loads(up.stdout) if up.returncode == 0 else []
    try:
        assert up.returncode == 0, up.stderr
        assert [n["name"] for n in nodes] == NAMES
        again = _run("devnet", "up", "--home", str(home))
        assert again.returncode == 1 and "already runs" in again.stderr

        status = _run("node", "status", "--home", str(home / "nodes" / "st-mary"), "--json")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["node"] == "st-mary"

        figures = tmp_path / "figures.json"
        demo = _run("devnet", "demo", "--rounds", "4", "--revoke-after", "2", "--home", str(home),
                    "--json", str(figures))  # fmt: skip
        assert demo.returncode == 0, demo.stderr
        result = json.loads(figures.read_text())
        assert len(result["rounds"]) == 4 and result["federated_accuracy"] >= 0.9
        assert result["excluded_asset"]["owner"] == "lakeside"
        later = [r for r in result["rounds"] if r["round"] > 2]
        assert all("city-general" not in r["participants"] for r in later)
        assert sum(int(v) for v in result["rewards_base_units"].values()) == 1_000 * 10**18
        assert _escrowed(home) == 0

        # again, on the same nodes: city-general revoked its consent in the first run
        second = _run("devnet", "demo", "--rounds", "2", "--revoke-after", "1", "--home",
                      str(home), "--json", str(figures))  # fmt: skip
        assert second.returncode == 0, second.stderr
        result = json.loads(figures.read_text())
        assert result["job_id"] == 2 and "city-general" in result["rounds"][0]["participants"]
        assert result["excluded_asset"]["owner"] == "lakeside"
        assert _escrowed(home) == 0
    finally:
        down = _run("devnet", "down", "--home", str(home))
        for node in nodes:
            stop_pid(node["pid"])
    assert down.returncode == 0 and "Stopped" in down.stdout
    stopped = _run("node", "status", "--home", str(home / "nodes" / "st-mary"))
    assert stopped.returncode == 1 and "is it running" in stopped.stderr


def test_a_devnet_stopped_starts_again_and_leaves_no_process(tmp_path: Path) -> None:
    home = tmp_path / "devnet"
    first = _run("devnet", "up", "--nodes", "2", "--home", str(home), "--json")
    seen: list[int] = []
    try:
        assert first.returncode == 0, first.stderr
        names = [n["name"] for n in json.loads(first.stdout)]
        seen += [n["pid"] for n in json.loads(first.stdout)]
        seen += _pids(home, json.loads(first.stdout))
        down = _run("devnet", "down", "--home", str(home))
        assert down.returncode == 0, down.stderr
        assert not any(_alive(pid) for pid in seen)  # anvil included
        assert not list(home.glob("nodes/*/node.pid")) and not (home / "chain.json").exists()
        demo_stopped = _run("devnet", "demo", "--home", str(home))

        again = _run("devnet", "up", "--home", str(home), "--json")
        assert again.returncode == 0, again.stderr
        restarted = json.loads(again.stdout)
        seen += _pids(home, restarted)
        other_size = _run("devnet", "up", "--nodes", "3", "--home", str(home))
        statuses = [_run("node", "status", "--home", str(home / "nodes" / n), "--json")
                    for n in names]  # fmt: skip
    finally:
        final = _run("devnet", "down", "--home", str(home))
        for pid in set(seen):
            if _alive(pid):
                stop_pid(pid)

    assert demo_stopped.returncode == 1 and "No devnet runs" in demo_stopped.stderr
    assert [n["name"] for n in restarted] == names  # the same nodes, with the same keys
    assert [n["address"] for n in restarted] == [n["address"] for n in json.loads(first.stdout)]
    assert other_size.returncode == 1 and "already runs" in other_size.stderr
    for status in statuses:
        assert status.returncode == 0, status.stderr
    assert final.returncode == 0 and not any(_alive(pid) for pid in seen)
    listed = subprocess.run(["ps", "-eo", "pid="], capture_output=True, text=True).stdout.split()
    assert not set(map(int, listed)) & set(seen)
