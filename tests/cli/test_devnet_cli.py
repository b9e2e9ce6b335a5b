"""`dain devnet up|demo|down` and `dain node status` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dain.ledger.anvil import stop_pid

pytestmark = pytest.mark.slow


def _run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dain", *args], capture_output=True, text=True, timeout=timeout,
        env=os.environ | {"DAIN_PASSWORD": "devnet"},
    )  # fmt: skip


def test_devnet_runs_the_demo_across_node_processes(tmp_path: Path) -> None:
    home = tmp_path / "devnet"
    up = _run("devnet", "up", "--nodes", "4", "--home", str(home), "--json")
    nodes = json.loads(up.stdout) if up.returncode == 0 else []
    try:
        assert up.returncode == 0, up.stderr
        assert [n["name"] for n in nodes] == [
            "st-mary",
            "city-general",
            "north-clinic",
            "lakeside",
            "researcher",
        ]
        again = _run("devnet", "up", "--home", str(home))
        assert again.returncode == 1 and "already exists" in again.stderr

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
    finally:
        down = _run("devnet", "down", "--home", str(home))
        for node in nodes:
            stop_pid(node["pid"])
    assert down.returncode == 0 and "Stopped" in down.stdout
    stopped = _run("node", "status", "--home", str(home / "nodes" / "st-mary"))
    assert stopped.returncode == 1 and "is it running" in stopped.stderr
