"""examples/imaging-job.sh, the imaging use case on real node processes: hospitals register
image folders, the template's CNN job is proposed, approved and trained across four node
processes on anvil, and the researcher's own held-out images score it above 90%; no
process or folder is left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dain.ledger import stop_pid
from tests.examples.test_first_job import _processes_under

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).parents[2] / "examples" / "imaging-job.sh"


def test_the_imaging_cnn_trains_on_node_processes(tmp_path: Path) -> None:
    env = os.environ | {"DAIN": f"{sys.executable} -m dain", "PYTHON": sys.executable,
                        "TMPDIR": str(tmp_path), "DAIN_PASSWORD": "imaging"}  # fmt: skip
    env.pop("KEEP", None)
    try:
        done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True,
                              timeout=1200, env=env)  # fmt: skip
    finally:
        left = _processes_under(tmp_path)
        for pid in left:
            stop_pid(pid)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "Done: every step worked." in done.stdout
    assert "final accuracy 0.9" in done.stdout
    assert "Traceback" not in output
    assert left == [] and list(tmp_path.glob("dain-imaging-job.*")) == []
