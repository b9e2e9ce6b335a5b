"""`dain demo --rpc` on a chain of one's own: it records the contracts it deploys in the
network home, runs again on them, and `dain audit` on that home finds its jobs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dain.ledger.anvil import AnvilProcess

pytestmark = pytest.mark.slow


def _dain(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dain", *args, "--home", str(home)],
        capture_output=True, text=True, timeout=600,
        env=os.environ | {"DAIN_PASSWORD": "devnet"},
    )  # fmt: skip


def _demo(home: Path, rpc: str, figures: Path) -> subprocess.CompletedProcess[str]:
    return _dain(home, "demo", "--rpc", rpc, "--rounds", "2", "--revoke-after", "1",
                 "--json", str(figures))  # fmt: skip


def test_demo_on_rpc_records_and_reuses_the_homes_contracts(tmp_path: Path) -> None:
    home = tmp_path / "net"
    anvil = AnvilProcess.start()
    other = AnvilProcess.start()
    try:
        first = _demo(home, anvil.url, tmp_path / "first.json")
        assert first.returncode == 0, first.stderr
        recorded = (home / "deployment.json").read_text()
        second = _demo(home, anvil.url, tmp_path / "second.json")
        elsewhere = _demo(home, other.url, tmp_path / "elsewhere.json")
        audited = [_dain(home, "audit", "job", str(job), "--rpc", anvil.url, "--json")
                   for job in (1, 2)]  # fmt: skip
    finally:
        anvil.stop()
        other.stop()

    assert "deployed and recorded" in first.stdout and (home / "treasury.json").exists()
    assert second.returncode == 0, second.stderr
    assert (home / "deployment.json").read_text() == recorded  # the same contracts
    ids = [json.loads((tmp_path / f).read_text())["job_id"] for f in ("first.json", "second.json")]
    assert ids == [1, 2]
    for job in audited:
        assert job.returncode == 0, job.stderr
        trail = json.loads(job.stdout)
        assert trail["status"] == "completed" and len(trail["rounds"]) == 2
    assert elsewhere.returncode == 1 and "Traceback" not in elsewhere.stderr
    assert "are not on the chain at" in elsewhere.stderr and "--home" in elsewhere.stderr
