"""The `dain` command as a user runs it: a real process, exit codes, and plain errors."""

from __future__ import annotations

import json
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
