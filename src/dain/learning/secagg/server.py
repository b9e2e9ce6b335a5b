"""The aggregator's side of a secure round: it routes shares, collects masked vectors, the
survivors' consistency checks (and relays to each survivor the vouchers addressed to it),
and unmask shares, and computes the sum of the survivors' vectors."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from dain.learning.errors import SecAggAborted, SecAggError
from dain.learning.secagg import shamir
from dain.learning.secagg.masking import (
    RING,
    dequantize,
    expand,
    pair_seed,
    public_bytes,
    scale_for,
)
from dain.learning.secagg.messages import (
    MAX_EXPONENT,
    MIN_EXPONENT,
    ConsistencyCheck,
    ShareMessage,
    UnmaskResponse,
)
from dain.learning.secagg.setup import RoundSetup


@dataclass
class SecAggServer:
    setup: RoundSetup
    shares: dict[int, ShareMessage] = field(default_factory=dict)
    masked: dict[int, np.ndarray] = field(default_factory=dict)
    checks: dict[int, ConsistencyCheck] = field(default_factory=dict)
    responses: dict[int, UnmaskResponse] = field(default_factory=dict)
    roster: dict[int, ShareMessage] | None = None  # U1, once closed
    survivors: frozenset[int] | None = None  # U3 (sent a masked input), once closed
    signers: frozenset[int] | None = None  # U4 (signed the survivor set), once closed
    _digest: bytes | None = field(default=None, repr=False)

    # ---- stage 1 ------------------------------------------------------------------------

    def add_shares(self, message: ShareMessage) -> None:
        setup = self.setup
        if self.roster is not None:
            raise SecAggError("Key sharing for this round is closed.")
        if message.sender not in setup.index:
            raise SecAggError(f"Party {message.sender:x} is not in this round.")
        if set(message.ciphertexts) != setup.neighbours_of(message.sender):
            raise SecAggError("A share message must carry one share for each neighbour, no more.")
        if len(message.mask_key) != 32:
            raise SecAggError("A mask key is 32 bytes.")
        if not MIN_EXPONENT <= message.exponent <= MAX_EXPONENT:
            raise SecAggError(f"The announced exponent {message.exponent} is out of bounds.")
        self.shares.setdefault(message.sender, message)

    def close_sharing(self) -> dict[int, ShareMessage]:
        """U1: everyone who shared keys in time. Below the quorum the round aborts: no
        survivor set could be certified."""
        if self.roster is None:
            self.roster = dict(sorted(self.shares.items()))
        self._at_least(len(self.roster), "clients shared keys")
        return self.roster

    # ---- stage 2 ------------------------------------------------------------------------

    def add_masked(self, sender: int, vector: np.ndarray) -> None:
        if self.roster is None or sender not in self.roster:
            raise SecAggError(f"Party {sender:x} is not in this round's roster.")
        if self.survivors is not None:
            raise SecAggError("Masked inputs for this round are closed.")
        if vector.dtype != RING or vector.shape != (self.setup.length,):
            raise SecAggError(f"A masked input is {self.setup.length} uint32 values.")
        self.masked.setdefault(sender, vector)

    def close_inputs(self) -> tuple[frozenset[int], frozenset[int]]:
        """(U3, dropped): who sent a masked input, and who of the roster did not."""
        if self.roster is None:
            raise SecAggError("Close key sharing first.")
        if self.survivors is None:
            self.survivors = frozenset(self.masked)
        self._at_least(len(self.survivors), "clients sent masked inputs")
        return self.survivors, frozenset(self.roster) - self.survivors

    # ---- stage 3: consistency check -----------------------------------------------------

    def consistency_digest(self) -> bytes:
        """What every survivor must have signed: the roster and the survivor set."""
        if self.roster is None or self.survivors is None:
            raise SecAggError("Close key sharing and inputs first.")
        if self._digest is None:  # both are closed: it never changes again
            keys = {party: message.mask_key for party, message in self.roster.items()}
            self._digest = self.setup.consistency_digest(keys, self.survivors)
        return self._digest

    def add_check(self, check: ConsistencyCheck) -> None:
        """A survivor's consistency check. Its vouchers cannot be checked here (only their
        recipients can), but a check of another view than this round's is refused."""
        sender = check.sender
        if self.survivors is None or sender not in self.survivors:
            raise SecAggError(f"Party {sender:x} is not a survivor of this round.")
        if self.signers is not None:
            raise SecAggError("The consistency check of this round is closed.")
        if check.digest != self.consistency_digest():
            raise SecAggError(
                f"Party {sender:x} signed another roster or survivor set than this round's."
            )
        if set(check.vouchers) != self.survivors - {sender}:
            raise SecAggError("A consistency check vouches to every other survivor, no one else.")
        self.checks.setdefault(sender, check)

    def close_checks(self) -> frozenset[int]:
        """U4, who vouched for the round's view; below the quorum the round aborts."""
        if self.survivors is None:
            raise SecAggError("Close masked inputs first.")
        if self.signers is None:
            self.signers = frozenset(self.checks)
        self._at_least(len(self.signers), "survivors signed the survivor set")
        return self.signers

    def vouchers_for(self, party: int) -> dict[int, bytes]:
        """What `party` needs to see before it reveals a share: each signer's voucher to it."""
        if self.signers is None:
            raise SecAggError("Close the consistency check first.")
        return {
            signer: self.checks[signer].vouchers[party]
            for signer in sorted(self.signers)
            if party in self.checks[signer].vouchers
        }

    # ---- stage 4 ------------------------------------------------------------------------

    def add_unmask(self, response: UnmaskResponse) -> None:
        if self.signers is None or response.sender not in self.signers:
            raise SecAggError(f"Party {response.sender:x} did not sign this round's survivors.")
        if set(response.seed_shares) & set(response.key_shares):
            raise SecAggError("An unmask response may not reveal both secrets of anyone.")
        self.responses.setdefault(response.sender, response)

    def missing(self) -> int:
        """How many secrets still lack enough shares; 0 when the sum can be computed."""
        return len(self._shortfall())

    def _shortfall(self) -> list[int]:
        assert self.roster is not None and self.survivors is not None
        need = self.setup.k_threshold
        short = []
        for owner in self.roster:
            kind = "seed_shares" if owner in self.survivors else "key_shares"
            have = sum(1 for r in self.responses.values() if owner in getattr(r, kind))
            # a dropped client's key matters only if a survivor masked with it
            needed = owner in self.survivors or self.setup.neighbours_of(owner) & self.survivors
            if needed and have < need:
                short.append(owner)
        return short

    def total(self) -> np.ndarray:
        """The sum of the survivors' vectors (float64), or SecAggAborted."""
        setup = self.setup
        if self.survivors is None or self.roster is None:
            raise SecAggError("Close key sharing and inputs first.")
        short = self._shortfall()
        if short:
            raise SecAggAborted(
                f"{len(short)} secrets have fewer than {setup.k_threshold} shares: "
                "too few clients answered the unmask request."
            )
        total = np.zeros(setup.length, dtype=RING)
        for vector in self.masked.values():
            total += vector
        for owner in self.roster:
            if owner in self.survivors:
                total -= expand(self._rebuild(owner, "seed_shares"), setup.length)
                continue
            partners = setup.neighbours_of(owner) & self.survivors
            if not partners:
                continue
            key = X25519PrivateKey.from_private_bytes(self._rebuild(owner, "key_shares"))
            if public_bytes(key) != self.roster[owner].mask_key:
                raise SecAggError(
                    f"The rebuilt mask key of {owner:x} does not match its public key."
                )
            for survivor in sorted(partners):
                seed = pair_seed(key, self.roster[survivor].mask_key, setup.context,
                                 setup.x(owner), setup.x(survivor))  # fmt: skip
                # the survivor added this mask towards a higher index and subtracted it
                # towards a lower one: take away exactly what it put in
                if setup.x(survivor) < setup.x(owner):
                    total -= expand(seed, setup.length)
                else:
                    total += expand(seed, setup.length)
        return dequantize(total, scale_for(setup.n, setup.value_range_of(self.roster)))

    def _rebuild(self, owner: int, kind: str) -> bytes:
        shares = {}
        for response in self.responses.values():
            found = getattr(response, kind).get(owner)
            if found is not None:
                shares[self.setup.x(response.sender)] = found
        return shamir.combine(shares, self.setup.k_threshold)

    def _at_least(self, count: int, what: str) -> None:
        if count < self.setup.quorum:
            raise SecAggAborted(f"Only {count} {what}; {self.setup.quorum} needed.")
