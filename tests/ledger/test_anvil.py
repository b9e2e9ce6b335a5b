"""The managed anvil keeps what dain needs and nothing on disk behind the user's back."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from dain.ledger.anvil import AnvilProcess


def test_a_long_run_leaves_no_state_files_in_the_users_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # anvil spills old states to ~/.foundry/anvil/tmp by default: a CI run of the suite
    # filled the disk with 15 GB of them
    monkeypatch.setenv("HOME", str(tmp_path))
    anvil = AnvilProcess.start()
    try:
        answer = httpx.post(
            anvil.url,
            json={"jsonrpc": "2.0", "id": 1, "method": "anvil_mine", "params": ["0x7d0"]},
        )
        assert answer.json()["result"] is None
        latest = httpx.post(
            anvil.url,
            json={"jsonrpc": "2.0", "id": 2, "method": "eth_blockNumber", "params": []},
        ).json()["result"]
        assert int(latest, 16) == 2000
        spilled = [p for p in (tmp_path / ".foundry").rglob("*") if p.is_file()]
    finally:
        anvil.stop()
    assert spilled == []
