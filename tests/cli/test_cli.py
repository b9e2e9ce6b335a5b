"""The `dain` command as a user runs it: a real process, exit codes, and plain errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

DAIN = [sys.executable, "-m", "dain"]

pytestmark = pytest.mark.slow


def _run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DAIN, *args], capture_output=True, text=True, timeout=timeout)


def test_demo_writes_its_figures_as_json(tmp_path: Path) -> None:
    out = tmp_path / "demo.json"

    result = _run("demo", "--rounds", "3", "--revoke-after", "1", "--json", str(out))

    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text())
    for key in (
        "federated_accuracy",
        "centralized_accuracy",
        "local_accuracies",
        "rounds",
        "data_used_events",
        "rewards",
        "revoked_asset",
        "excluded_asset",
    ):
        assert key in figures
    assert len(figures["rounds"]) == 3
    assert figures["revoked_asset"]["after_round"] == 1
    assert figures["excluded_asset"]["owner"] == "lakeside"
    assert abs(sum(figures["rewards"].values()) - figures["reward_pool"]) < 1e-6
    exact = sum(int(v) for v in figures["rewards_base_units"].values())
    assert exact == int(figures["reward_pool"]) * 10**18
    assert "Audit trail" in result.stdout


def test_bad_options_get_a_plain_error_and_no_traceback(tmp_path: Path) -> None:
    missing_dir = _run("demo", "--json", str(tmp_path / "no" / "such" / "dir.json"))
    wrong_order = _run("demo", "--rounds", "3", "--revoke-after", "5")

    for result in (missing_dir, wrong_order):
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("Error:")
    assert "does not exist" in missing_dir.stderr
    assert "--revoke-after" in wrong_order.stderr


def test_chain_up_persists_state_and_down_stops_it_by_pid(tmp_path: Path) -> None:
    home = tmp_path / "net"
    up = _run("chain", "up", "--home", str(home), "--port", "0")
    record = json.loads((home / "chain.json").read_text())
    try:
        assert up.returncode == 0, up.stderr
        deployment = json.loads((home / "deployment.json").read_text())
        twice = _run("chain", "up", "--home", str(home), "--port", "0")
        assert twice.returncode == 1 and "already runs" in twice.stderr

        down = _run("chain", "down", "--home", str(home))
        assert down.returncode == 0 and not _alive(record["pid"])
        assert (home / "anvil-state.json").stat().st_size > 0

        again = _run("chain", "up", "--home", str(home), "--port", "0")
        record = json.loads((home / "chain.json").read_text())
        assert again.returncode == 0 and "contracts as recorded" in again.stdout
        assert json.loads((home / "deployment.json").read_text()) == deployment
        assert _run("chain", "status", "--home", str(home)).returncode == 0
        demo = _run("demo", "--rounds", "2", "--revoke-after", "1", "--rpc", record["url"],
                    "--home", str(home))  # fmt: skip
        assert demo.returncode == 0, demo.stderr
        assert "(rpc backend)" in demo.stdout
        assert json.loads((home / "deployment.json").read_text()) == deployment  # the home's
    finally:
        _run("chain", "down", "--home", str(home))
        if _alive(record["pid"]):
            os.kill(record["pid"], signal.SIGKILL)
    assert not _alive(record["pid"])
    assert _run("chain", "status", "--home", str(home)).returncode == 3


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_data_sample_writes_a_use_case_ready_to_propose(tmp_path: Path) -> None:
    result = _run("data", "sample", "smart_city", "--out", str(tmp_path / "city"), "--parts",
                  "2", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    written = json.loads(result.stdout)
    assert [Path(p).name for p in written["owners"]] == ["district_1.csv", "district_2.csv"]
    assert written["register"].endswith("--target load_mw --purpose energy-planning")
    assert (tmp_path / "city" / "job.toml").exists()
    again = _run("data", "sample", "smart_city", "--out", str(tmp_path / "city"))
    assert again.returncode != 0 and "exists already" in again.stderr + again.stdout
    assert "Traceback" not in again.stderr
