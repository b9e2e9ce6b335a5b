"""Where a node remembers the envelopes it took, so none is taken twice.

An envelope is fresh for `max_age` seconds (see `ReplayGuard`); its nonce must be
remembered at least that long, across restarts too, or a message captured before a
restart could be played to the node again after it. A store keeps (sender, nonce,
timestamp) and answers one question atomically: "is this new? then remember it". Two
real stores: `NodeState` (SQLite, in the node's state.db, for nodes with a home) and
`MemoryNonces` below (in-process networks, where a restart is a new network anyway).

A store is bounded: a flood of unique nonces must not grow it without limit. It holds at
most `NonceLimits.per_sender` nonces of one sender and `NonceLimits.total` in all within
the freshness window; past either it takes nothing new from that sender (FULL) until old
nonces age out. Only envelopes that passed every other check reach a store (see `Intake`),
so only members can fill it, and the per-sender limit keeps one member from crowding out
the others.
"""

from __future__ import annotations

import heapq
import threading
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Remembered(StrEnum):
    NEW = "new"  # not seen before; now remembered
    SEEN = "seen"  # already remembered: a replay
    FULL = "full"  # not seen, but the store holds all it may from this sender or in all


@dataclass(frozen=True)
class NonceLimits:
    # an honest node sends 1-3 envelopes per asset and round to an aggregator; 1,000 in
    # five minutes is far above that and still small
    per_sender: int = 1_000
    # a backstop over all senders: at about 150 bytes a row, 100,000 rows are ~15 MB
    total: int = 100_000


class NonceStore(Protocol):
    def remember_nonce(
        self, sender: str, nonce: str, timestamp: int, *, forget_before: int, limits: NonceLimits
    ) -> Remembered:
        """Forgets nonces dated before `forget_before`, then, in one step that no other
        thread or process can interleave with: SEEN if (sender, nonce) is remembered,
        FULL if a limit is reached, else remembers it with `timestamp` and answers NEW."""
        ...


class MemoryNonces:
    """Nonces in memory: for in-process networks. Thread-safe; forgetting is O(log n) per
    nonce, oldest first."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], int] = {}
        self._by_age: list[tuple[int, str, str]] = []  # a heap: oldest first
        self._per_sender: Counter[str] = Counter()
        self._lock = threading.Lock()

    def remember_nonce(
        self, sender: str, nonce: str, timestamp: int, *, forget_before: int, limits: NonceLimits
    ) -> Remembered:
        with self._lock:
            while self._by_age and self._by_age[0][0] < forget_before:
                _, old_sender, old_nonce = heapq.heappop(self._by_age)
                del self._seen[(old_sender, old_nonce)]
                self._per_sender[old_sender] -= 1
                if not self._per_sender[old_sender]:
                    del self._per_sender[old_sender]
            if (sender, nonce) in self._seen:
                return Remembered.SEEN
            if self._per_sender[sender] >= limits.per_sender or len(self._seen) >= limits.total:
                return Remembered.FULL
            self._seen[(sender, nonce)] = timestamp
            heapq.heappush(self._by_age, (timestamp, sender, nonce))
            self._per_sender[sender] += 1
            return Remembered.NEW

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)
