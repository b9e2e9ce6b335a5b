"""Which jobs involve this node: those its assets were enrolled in, found from the chain's
enrollment events (issue 12, finding 8). Each asset's history is read once from the first
block, then only the blocks since the last look, so a node's step does not grow with the
number of jobs anyone proposed, spam included."""

from __future__ import annotations

import threading
from collections.abc import Collection

from dain.ledger import Ledger


class JobFinder:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._jobs: set[int] = set()
        self._read_to: dict[int, int] = {}  # asset id -> the last block read for it
        self._lock = threading.Lock()

    def jobs(self, asset_ids: Collection[int]) -> list[int]:
        """Every job any of these assets was ever enrolled in, by id. An asset new to the
        node (registered or received since the last look) has its whole history read."""
        head = self.ledger.block_number()
        with self._lock:
            known = {a: self._read_to[a] + 1 for a in asset_ids if a in self._read_to}
        unknown = [a for a in asset_ids if a not in known]
        found = self.ledger.jobs.enrollments(unknown, 0, head) if unknown else []
        for start in sorted(set(known.values())):
            if start <= head:
                group = [a for a, first in known.items() if first == start]
                found += self.ledger.jobs.enrollments(group, start, head)
        with self._lock:
            self._jobs.update(e.job_id for e in found)
            for asset in asset_ids:
                self._read_to[asset] = max(head, self._read_to.get(asset, -1))
            return sorted(self._jobs)
