"""A malicious aggregator for secure rounds (issue 11, finding 6): the node's own
SecureAggregator, changed only in what it tells each client. It shows a victim a roster of
just t members (the victim and two "cover" clients), so the victim masks its update with
the cover clients' pairwise masks alone; then it tells every client its own survivor list,
chosen so that together the answers reveal the victim's self-mask seed and the cover
clients' private mask keys, while no single client is asked for both secrets of anyone.

It knows who asks each request as an HTTP server knows a connection's peer address: a
`Tap` on each node's transport tells it. Nothing about the clients is changed."""

from __future__ import annotations

from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from dain.learning.secagg import (
    ConsistencyCheck,
    UnmaskResponse,
    dequantize,
    expand,
    scale_for,
    shamir,
)
from dain.learning.secagg.masking import pair_seed
from dain.ledger import JobInfo, RoundInfo
from dain.node import MessageKind, Request, Response, Transport
from dain.node.errors import StageOpen
from dain.node.secure_aggregator import Phase, SecureAggregator


class SplitView(SecureAggregator):
    def __init__(self, *args: Any, victim: int, cover: tuple[int, int]) -> None:
        super().__init__(*args)
        self.victim = victim
        self.cover = cover
        self.asking = ""  # the address of the node whose request is being answered
        self.checks: dict[int, Any] = {}  # asset -> its consistency check, if any
        self.revealed: dict[int, UnmaskResponse] = {}  # what the clients gave away
        self.asked_to_unmask: set[int] = set()  # clients that fetched an unmask request
        self._key: tuple[int, int] | None = None

    # ---- who asks ------------------------------------------------------------------

    def _asker(self) -> int:
        owner_of = self.ctx.ledger.assets.owner_of
        return next(p for p in self._parties() if owner_of(p) == self.asking)

    def _parties(self) -> tuple[int, ...]:
        return self._collecting().server.setup.parties

    def _collecting(self) -> Any:
        assert self._key is not None, "no round has started here"
        return self._rounds[self._key]

    # ---- what it collects --------------------------------------------------------------

    def accept(self, kind: MessageKind, body: bytes) -> dict[str, Any]:
        if kind in (MessageKind.SHARES, MessageKind.MASKED):
            answer = super().accept(kind, body)
            self._key = (answer["job_id"], answer["round"])
            return answer
        incoming = self.intake.check(body, kind)
        if kind is MessageKind.UNMASK:
            found = incoming.envelope.body["response"]
            self.revealed[incoming.asset_id] = UnmaskResponse.from_dict(found)
        else:  # the consistency check of a protocol that has one: kept, never checked
            self.checks[incoming.asset_id] = ConsistencyCheck.from_dict(
                incoming.envelope.body["check"]
            )
        return {"accepted": True, "job_id": incoming.job.job_id, "round": incoming.round}

    def progress(self, job: JobInfo, round: int, now: float, expected: int) -> RoundInfo | None:
        """Closes key sharing once everyone shared, and never records: when the attack is
        over the round runs out its window and fails over to the next candidate."""
        collecting = self._round(job, round)
        self._key = (job.job_id, round)
        with self._lock:
            if collecting.server.roster is None and len(collecting.server.shares) == expected:
                collecting.server.close_sharing()
                collecting.phase = Phase.MASKING
        return None

    # ---- what it answers -------------------------------------------------------------

    def roster(self, job_id: int, round: int) -> dict[str, Any]:
        collecting = self._collecting()
        if collecting.server.roster is None:
            raise StageOpen("Key sharing is still open.")
        shown = self._roster_of(self._asker())
        return {"roster": [collecting.envelopes[a].decode() for a in sorted(shown)]}

    def _roster_of(self, asker: int) -> set[int]:
        if asker == self.victim:
            return {self.victim, *self.cover}  # t members: the victim and two cover clients
        return set(self._parties())

    def _survivors_of(self, asker: int) -> set[int]:
        """Each client's own list: the victim is told everyone of its roster survived; the
        others that the victim survived and the cover clients dropped, except that each
        cover client hears that the other one dropped."""
        victim, cover = self.victim, set(self.cover)
        rest = sorted(set(self._parties()) - cover - {victim})
        if asker == victim:
            return {victim, *cover}
        if asker in cover:
            return {asker, victim, rest[0]}
        return {victim, *rest}

    def _request(self) -> dict[str, Any]:
        asker = self._asker()
        collecting = self._collecting()
        if len(collecting.server.masked) < len(self._parties()):
            raise StageOpen("Masked inputs are still being collected.")
        survivors = self._survivors_of(asker)
        dropped = self._roster_of(asker) - survivors
        # every voucher addressed to the asker it holds, whichever view each vouches for
        vouchers = {
            str(sender): check.vouchers[asker].hex()
            for sender, check in sorted(self.checks.items())
            if asker in check.vouchers
        }
        return {
            "survivors": [str(p) for p in sorted(survivors)],
            "dropped": [str(p) for p in sorted(dropped)],
            "vouchers": vouchers,
        }

    def survivors_request(self, job_id: int, round: int) -> dict[str, Any]:
        return self._request()

    def unmask_request(self, job_id: int, round: int, asset_id: int = 0) -> dict[str, Any]:
        answer = self._request()
        if self._has_check_stage() and len(self.checks) < len(self._parties()):
            raise StageOpen("Survivor sets are still being signed.")
        self.asked_to_unmask.add(self._asker())
        return answer

    def _has_check_stage(self) -> bool:
        return any(kind.value == "secagg-check" for kind in MessageKind)

    # ---- the attack ----------------------------------------------------------------

    def shares_obtained(self) -> tuple[int, dict[int, int]]:
        """How many shares of the victim's self-mask seed it holds, and of each cover
        client's private mask key."""
        seeds = sum(1 for r in self.revealed.values() if self.victim in r.seed_shares)
        keys = {u: sum(1 for r in self.revealed.values() if u in r.key_shares) for u in self.cover}
        return seeds, keys

    def residual(self) -> np.ndarray:
        """The victim's masked input with every mask this aggregator can rebuild removed."""
        server = self._collecting().server
        setup, victim = server.setup, self.victim
        t, length = setup.k_threshold, setup.length
        found = server.masked[victim].copy()
        seeds = self._shares(victim, "seed_shares")
        if len(seeds) >= t:
            found -= expand(shamir.combine(seeds, t), length)
        for u in self.cover:
            keys = self._shares(u, "key_shares")
            if len(keys) < t:
                continue
            key = X25519PrivateKey.from_private_bytes(shamir.combine(keys, t))
            seed = pair_seed(key, server.shares[victim].mask_key, setup.context,
                             setup.x(u), setup.x(victim))  # fmt: skip
            # the victim added this mask towards a higher index, subtracted it towards a lower
            if setup.x(victim) < setup.x(u):
                found -= expand(seed, length)
            else:
                found += expand(seed, length)
        return found

    def learned(self) -> np.ndarray | None:
        """The victim's (weighted) update, if the answers let this aggregator unmask it."""
        seeds, keys = self.shares_obtained()
        t = self._collecting().server.setup.k_threshold
        if seeds < t or min(keys.values()) < t:
            return None
        server = self._collecting().server
        shown = {p: server.shares[p] for p in self._roster_of(self.victim)}
        scale = scale_for(server.setup.n, server.setup.value_range_of(shown))
        return dequantize(self.residual(), scale)

    def _shares(self, owner: int, kind: str) -> dict[int, int]:
        setup = self._collecting().server.setup
        return {
            setup.x(sender): getattr(response, kind)[owner]
            for sender, response in self.revealed.items()
            if owner in getattr(response, kind)
        }


class Tap:
    """A node's transport as the aggregator sees it: tells `attacker` who is asking."""

    def __init__(self, inner: Transport, address: str, attacker: SplitView) -> None:
        self.inner = inner
        self.address = address
        self.attacker = attacker

    def send(self, endpoint: str, request: Request, tls_fingerprint: bytes = b"") -> Response:
        self.attacker.asking = self.address
        return self.inner.send(endpoint, request, tls_fingerprint)
