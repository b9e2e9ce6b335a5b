"""`dain chain up` mines on an interval by default: a vote closes by itself, with nobody
mining or sending anything, while transactions are still mined at once."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dain.identity import Identity
from dain.ledger import Deployment, Ledger, ProposalState, RpcChain

pytestmark = pytest.mark.slow
PASSWORD = "correct horse"


def _dain(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dain", *args],
        capture_output=True, text=True, timeout=120,
        env=os.environ | {"DAIN_HOME": str(home), "DAIN_PASSWORD": PASSWORD},
    )  # fmt: skip


def test_a_vote_closes_by_itself_on_the_default_chain(tmp_path: Path) -> None:
    home = tmp_path / "net"
    up = _dain(home, "chain", "up", "--port", "0", "--password", "devnet")
    assert up.returncode == 0, up.stderr
    pid = json.loads((home / "chain.json").read_text())["pid"]
    try:
        assert "a block every 2 s" in up.stdout
        voter = tmp_path / "voter.json"
        address = json.loads(_dain(home, "key", "new", str(voter), "--json").stdout)["address"]
        admitted = _dain(home, "chain", "admit", address, "--tokens", "50000",
                         "--password", "devnet")  # fmt: skip
        assert admitted.returncode == 0, admitted.stderr
        assert _dain(home, "gov", "delegate", "--keystore", str(voter)).returncode == 0
        no_job = _dain(home, "gov", "propose", "--approve-job", "1", "--keystore", str(voter))
        assert no_job.returncode == 1 and "Traceback" not in no_job.stderr
        assert "There is no job 1 on this network (no job has been proposed yet)" in no_job.stderr
        proposed = _dain(home, "gov", "propose", "--floor-share", "250", "--keystore",
                         str(voter), "--json")  # fmt: skip
        assert proposed.returncode == 0, proposed.stderr
        proposal_id = json.loads(proposed.stdout)["proposal_id"]
        ledger = Ledger(RpcChain(json.loads((home / "chain.json").read_text())["url"]),
                        Deployment.load(home / "deployment.json"),
                        Identity.load_keystore(voter, PASSWORD))  # fmt: skip
        proposal = ledger.gov.proposal(int(proposal_id))

        # nobody mines: the interval's blocks open the vote (its snapshot passes) ...
        _wait_for(lambda: ledger.gov.state(proposal) == ProposalState.ACTIVE)
        voted = _dain(home, "gov", "vote", proposal_id, "for", "--keystore", str(voter))
        # ... and close it (the voting period is 20 blocks)
        _wait_for(lambda: ledger.gov.state(proposal) != ProposalState.ACTIVE)

        assert voted.returncode == 0, voted.stderr
        status = json.loads(_dain(home, "gov", "status", proposal_id, "--json").stdout)
        assert status["state"] == "succeeded"
        assert status["outcome"].startswith("passed: quorum reached")
    finally:
        _dain(home, "chain", "down")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    no_chain = _dain(home, "chain", "mine", "3")
    assert no_chain.returncode == 1 and "No chain runs" in no_chain.stderr
    assert "dain chain up" in no_chain.stderr


def _wait_for(condition, timeout: float = 240.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the chain stopped making blocks"
        time.sleep(0.5)
