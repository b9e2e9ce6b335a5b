"""Runs one secure-aggregation round in one process, with chosen clients dropping out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from dain.learning.secagg import RoundSetup, SecAggClient, SecAggServer, public_bytes


@dataclass
class Outcome:
    total: np.ndarray
    server: SecAggServer
    masked: dict[int, np.ndarray]


def run_round(
    vectors: dict[int, np.ndarray],
    *,
    value_range: float = 1.0,
    degree: int = 0,
    threshold: int = 0,
    drop_before_sharing: frozenset[int] = frozenset(),
    drop_before_input: frozenset[int] = frozenset(),
    drop_before_check: frozenset[int] = frozenset(),
    drop_before_unmask: frozenset[int] = frozenset(),
) -> Outcome:
    """A round of honest clients and an honest aggregator."""
    parties = tuple(sorted(vectors))
    keys = {p: X25519PrivateKey.generate() for p in parties}
    length = len(next(iter(vectors.values())))
    setup = RoundSetup(
        parties,
        {p: public_bytes(k) for p, k in keys.items()},
        length,
        value_range,
        context=b"test round".ljust(32, b"\0"),
        degree=degree,
        threshold=threshold,
    )
    clients = {p: SecAggClient(setup, p, keys[p]) for p in parties}
    server = SecAggServer(setup)
    for p in parties:
        if p not in drop_before_sharing:
            server.add_shares(clients[p].share_keys(vectors[p]))
    roster = server.close_sharing()
    masked = {}
    for p in roster:
        if p not in drop_before_input:
            masked[p] = clients[p].mask(vectors[p], roster)
            server.add_masked(p, masked[p])
    survivors, dropped = server.close_inputs()
    for p in survivors:
        if p not in drop_before_check:
            server.add_check(clients[p].consistency_check(survivors, dropped))
    for p in server.close_checks():
        if p not in drop_before_unmask:
            vouchers = server.vouchers_for(p)
            server.add_unmask(clients[p].unmask(survivors, dropped, vouchers))
    return Outcome(server.total(), server, masked)
