"""examples/first-job.sh, the README's first job with dain commands only, runs whole: a chain
on anvil, four real node processes, a vote, training, claims, the model and its verified
card; and it leaves no process behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dain.ledger import stop_pid

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).parents[2] / "examples" / "first-job.sh"


def _processes_under(folder: Path) -> list[int]:
    """Pids of processes whose command line names anything in `folder`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(folder) in command:
            found.append(int(entry.name))
    return found


def test_the_first_job_walkthrough_runs_and_cleans_up(tmp_path: Path) -> None:
    env = os.environ | {"DAIN": f"{sys.executable} -m dain", "PYTHON": sys.executable,
                        "TMPDIR": str(tmp_path), "DAIN_PASSWORD": "walkthrough"}  # fmt: skip
    env.pop("KEEP", None)
    try:
        done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True,
                              timeout=1200, env=env)  # fmt: skip
    finally:
        left = _processes_under(tmp_path)
        for pid in left:  # only if the script failed to: the test then fails below
            stop_pid(pid)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "Done: every step worked." in done.stdout
    assert "matches the chain and the blobs" in done.stdout
    assert "The tampered card was caught: " in done.stdout and "assets[0].examples" in done.stdout
    assert "requester: accuracy" in done.stdout  # job show: the requester's scores per round
    assert "Traceback" not in output
    assert left == [] and list(tmp_path.glob("dain-first-job.*")) == []  # its folder removed
