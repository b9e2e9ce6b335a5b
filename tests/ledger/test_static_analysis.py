"""slither on every dain contract (through contracts/tools/solc, which answers its compiler
calls with the pinned npm solc): each finding is triaged in contracts/slither-triage.json
with the reason it is acceptable, a new finding fails this test until someone triages or
fixes it, and a triaged finding that no longer appears must be removed from the file."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SLITHER = ROOT / ".venv-slither" / "bin" / "slither"
TRIAGE = ROOT / "contracts" / "slither-triage.json"

pytestmark = pytest.mark.node  # needs Node.js for the compiler


def _key(finding: dict) -> str:
    """A finding's identity that survives edits elsewhere in the file: the detector, and
    the contract and function (or variable) it is about."""
    first = finding["elements"][0] if finding["elements"] else {}
    parent = first.get("type_specific_fields", {}).get("parent", {}).get("name", "")
    return f"{finding['check']}:{parent}.{first.get('name', '')}"


def _findings(tmp_path: Path) -> dict[str, str]:
    assert SLITHER.exists(), "slither lives in .venv-slither; `make test` installs it"
    report = tmp_path / "slither.json"
    env = {**os.environ, "PATH": f"{ROOT / 'contracts' / 'tools'}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        [str(SLITHER), "contracts/tools/Everything.sol", "--filter-paths", "node_modules",
         "--json", str(report), "--compile-force-framework", "solc"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert report.exists(), f"slither did not run: {done.stderr[-2000:]}"
    result = json.loads(report.read_text())
    assert result["success"], result.get("error")
    return {_key(f): f["description"].strip() for f in result["results"].get("detectors", [])}


def test_every_slither_finding_is_triaged(tmp_path: Path) -> None:
    found = _findings(tmp_path)
    triaged = json.loads(TRIAGE.read_text())
    untriaged = {key: found[key] for key in sorted(set(found) - set(triaged))}
    stale = sorted(set(triaged) - set(found))
    assert untriaged == {}, "new findings: fix them or add each to the triage with a reason"
    assert stale == [], "triaged findings that no longer appear: remove them from the triage"
    assert all(len(reason) > 20 for reason in triaged.values())  # a reason, not a shrug
