"""The committed ABI and bytecode are exactly what the pinned compiler makes of contracts/."""

from __future__ import annotations

import subprocess
from pathlib import Path

from dain.ledger.artifacts import CONTRACTS, load_artifact

ROOT = Path(__file__).resolve().parents[2]


def test_committed_artifacts_match_a_fresh_build() -> None:
    result = subprocess.run(
        ["node", "contracts/build.cjs", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr


def test_every_contract_has_abi_and_bytecode() -> None:
    for name in CONTRACTS:
        artifact = load_artifact(name)
        assert artifact.bytecode.startswith("0x") and len(artifact.bytecode) > 100
        assert any(entry["type"] == "function" for entry in artifact.abi)
