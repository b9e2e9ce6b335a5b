"""`dain audit` given input that names nothing: a plain message naming the problem and the
fix, exit code 1, no traceback (issue 13, "Why"). Real processes, against anvil."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

from dain.identity import Identity
from dain.identity.addresses import EXAMPLE
from dain.ledger import Auditor, Deployment, Ledger, RpcChain, deploy, trail_csv
from dain.ledger.anvil import AnvilProcess

pytestmark = pytest.mark.slow


def _audit(home: Path, *args: str, rpc: str | None = None) -> subprocess.CompletedProcess[str]:
    chain = ["--rpc", rpc] if rpc else []
    return subprocess.run(
        [sys.executable, "-m", "dain", "audit", *args, "--home", str(home), *chain],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith("Error:"), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


@pytest.fixture
def network(anvil: AnvilProcess, tmp_path: Path) -> Path:
    """A home whose deployment.json names contracts freshly deployed on anvil."""
    chain = RpcChain(anvil.url)
    deployer = Identity.create()
    chain.fund(deployer.address, 10**20)
    deploy(chain.web3, deployer, gas_limit=chain.gas_limit).save(tmp_path / "deployment.json")
    return tmp_path


MALFORMED = "0x followed by 40 hex digits"


@pytest.mark.parametrize(
    ("address", "problem", "fix"),
    [
        ("hello", "'hello' is not an address", MALFORMED),
        ("0x1234", "'0x1234' is not an address", MALFORMED),
        # a checksummed address with one letter's case changed: the checksum no longer holds
        ("0x52908400098527886e0F7030069857D2E4169EE7", "mistyped", "lower case"),
    ],
    ids=["word", "short", "checksum"],
)
def test_audit_member_names_a_malformed_address(
    tmp_path: Path, address: str, problem: str, fix: str
) -> None:
    # refused before any chain is looked for: this home has none
    _refused(_audit(tmp_path, "member", address), problem, fix)


def test_audit_job_says_there_is_no_such_job(network: Path, anvil: AnvilProcess) -> None:
    for job_id in ("999", "0"):
        _refused(_audit(network, "job", job_id, rpc=anvil.url),
                 f"There is no job {job_id}", "no job was ever proposed")  # fmt: skip


def test_audit_refuses_json_and_csv_at_once(tmp_path: Path) -> None:
    _refused(_audit(tmp_path, "member", EXAMPLE, "--json", "--csv"), "one of --json and --csv")


def test_audit_csv_is_the_trail_the_dashboard_downloads(network: Path, anvil: AnvilProcess) -> None:
    chain = RpcChain(anvil.url)
    ledger = Ledger(chain, Deployment.load(network / "deployment.json"), Identity.create())

    printed = _audit(network, "member", EXAMPLE, "--csv", rpc=anvil.url)
    refused = _audit(network, "asset", "0x" + "12" * 32, "--csv", rpc=anvil.url)

    assert printed.returncode == 0, printed.stderr
    expected = trail_csv(Auditor(ledger).member(EXAMPLE))
    assert printed.stdout == expected.replace("\r\n", "\n")  # read as text: newlines folded
    rows = list(csv.DictReader(io.StringIO(printed.stdout)))
    assert [r["kind"] for r in rows][:1] == ["member"] and rows[0]["admitted"] == "false"
    _refused(refused, "There is no data asset 0x1212", "dain data list")
