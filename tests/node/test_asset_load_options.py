"""A node's assets remember how their data is read (issue 14, point 2): an image folder's
size and channels survive a restart, and a state database from before keeps working."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dain.data import ConsentPolicy
from dain.node import NodeState, StoredAsset

POLICY = ConsentPolicy(("diagnosis",))


def test_load_options_survive_a_restart_and_a_policy_change(tmp_path: Path) -> None:
    asset = StoredAsset(2**255 + 1, "scans", Path("/data/scans"), "class", b"\x02" * 32, POLICY,
                        {"size": [8, 8], "channels": 1})  # fmt: skip
    state = NodeState(tmp_path / "state.db")
    state.add_asset(asset)
    state.set_policy(asset.asset_id, ConsentPolicy(("research",)))
    state.close()

    (reopened,) = NodeState(tmp_path / "state.db").assets()

    assert reopened.load_options == {"size": [8, 8], "channels": 1}
    assert reopened.policy.purposes == ("research",)


def test_a_database_from_before_load_options_keeps_its_assets(tmp_path: Path) -> None:
    old = sqlite3.connect(tmp_path / "state.db")
    old.execute("CREATE TABLE assets (asset_id TEXT PRIMARY KEY, title TEXT NOT NULL, "
                "csv_path TEXT NOT NULL, target TEXT NOT NULL, salt TEXT NOT NULL, "
                "policy TEXT NOT NULL)")  # fmt: skip
    old.execute("INSERT INTO assets VALUES (?, ?, ?, ?, ?, ?)",
                (hex(7), "cases", "/data/cases.csv", "diagnosis", "01" * 32,
                 '{"purposes": ["diagnosis"]}'))  # fmt: skip
    old.commit()
    old.close()

    state = NodeState(tmp_path / "state.db")
    (asset,) = state.assets()
    state.add_asset(StoredAsset(8, "more", Path("/data/more.csv"), "y", b"\x03" * 32, POLICY))

    assert asset.title == "cases" and asset.load_options == {}
    assert [a.asset_id for a in state.assets()] == [7, 8]
    assert NodeState(tmp_path / "state.db").assets()[0] == asset  # opened again: no change
