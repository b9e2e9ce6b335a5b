"""A node's state database: what it keeps survives a restart, a write is taken once, and
threads may share it."""

from __future__ import annotations

import threading
from pathlib import Path

from dain.data import ConsentPolicy
from dain.node import NodeState, StoredAsset
from dain.node.state import StoredUpdate

ASSET = 2**255 + 7  # asset ids exceed SQLite's integers


def _asset(policy: ConsentPolicy | None = None) -> StoredAsset:
    return StoredAsset(ASSET, "cases", Path("/data/cases.csv"), "diagnosis", b"\x01" * 32,
                       policy or ConsentPolicy(("diagnosis",), price_per_round=5))  # fmt: skip


def test_assets_and_policies_survive_a_restart(tmp_path: Path) -> None:
    state = NodeState(tmp_path / "state.db")
    state.add_asset(_asset())
    narrower = ConsentPolicy(("research:genomics",), max_epsilon=2.0)
    state.set_policy(ASSET, narrower)
    state.close()

    reopened = NodeState(tmp_path / "state.db")

    assert reopened.assets() == [_asset(narrower)]


def test_an_update_is_kept_once_and_deliveries_are_per_aggregator(tmp_path: Path) -> None:
    state = NodeState(tmp_path / "state.db")
    first = StoredUpdate("bafkreione", 10, b"\x1b" * 65)
    state.save_update(3, 1, ASSET, first)
    state.save_update(3, 1, ASSET, StoredUpdate("bafkreitwo", 11, b"\x1c" * 65))
    state.mark_delivered(3, 1, ASSET, "0xaggregator")
    state.mark_delivered(3, 1, ASSET, "0xaggregator")

    assert state.update(3, 1, ASSET) == first  # a retrained update never replaces the first
    assert state.update(3, 2, ASSET) is None
    assert state.delivered(3, 1, ASSET, "0xaggregator")
    assert not state.delivered(3, 1, ASSET, "0xfailover")  # a new aggregator gets it again
    assert state.deliveries() == 1


def test_threads_share_the_database(tmp_path: Path) -> None:
    state = NodeState(tmp_path / "state.db")

    def deliver(worker: int) -> None:
        for round_no in range(50):
            state.mark_delivered(worker, round_no, ASSET, "0xa")
            assert state.delivered(worker, round_no, ASSET, "0xa")

    threads = [threading.Thread(target=deliver, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert state.deliveries() == 200
