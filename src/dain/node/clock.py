"""The chain's time between blocks. A round's deadline passes while no block is mined, so a
node cannot read the last block's timestamp; and a chain's clock may run ahead of this
machine's (a dev chain moved forward, a validator's skew). The pending block's timestamp is
the time the next transaction will see; the clock adds this machine's sub-second part."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class ChainClock:
    def __init__(
        self, pending_timestamp: Callable[[], int], wall: Callable[[], float] = time.time
    ) -> None:
        self._pending_timestamp = pending_timestamp
        self._wall = wall

    def now(self) -> float:
        pending = self._pending_timestamp()
        wall = self._wall()
        return max(float(pending), pending + (wall - math.floor(wall)))
