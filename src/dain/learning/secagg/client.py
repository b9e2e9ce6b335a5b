"""One client's side of a secure round. It never trusts the aggregator's word: before each
stage it checks that what it is shown cannot be used to unmask it (see `setup` for why
these checks and floors suffice)."""

from __future__ import annotations

import hmac
import math
import secrets
import struct
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dain.learning.errors import SecAggAborted, SecAggError
from dain.learning.secagg import shamir
from dain.learning.secagg.masking import (
    derive,
    expand,
    pair_seed,
    public_bytes,
    quantize,
    scale_for,
)
from dain.learning.secagg.messages import (
    ConsistencyCheck,
    ShareMessage,
    UnmaskResponse,
    exponent_of,
)
from dain.learning.secagg.pairs import PairSecrets
from dain.learning.secagg.setup import RoundSetup

_PLAINTEXT = struct.Struct(f">II{shamir.SHARE_BYTES}s{shamir.SHARE_BYTES}s")


@dataclass
class SecAggClient:
    """Keep it for the whole round: it holds the round's secrets and remembers what it
    masked with, what it signed and what it revealed, so it never masks twice, signs two
    survivor sets, or reveals both secrets of anyone."""

    setup: RoundSetup
    me: int
    agreement_key: X25519PrivateKey  # long-term; its public half is on chain
    pairs: PairSecrets | None = None  # kept across a job's rounds; made afresh if not given
    _mask_key: X25519PrivateKey = field(default_factory=X25519PrivateKey.generate)
    _seed: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    _held: dict[int, tuple[int, int]] = field(default_factory=dict)  # owner -> my shares
    _roster: dict[int, bytes] = field(default_factory=dict)  # U1: party -> public mask key
    _signed: tuple[frozenset[int], bytes] | None = None  # the survivor set signed, its digest
    _revealed: dict[int, str] = field(default_factory=dict)  # owner -> "seed" | "key"
    _channels: dict[int, AESGCM] = field(default_factory=dict)  # one key agreement per peer

    def __post_init__(self) -> None:
        if self.me not in self.setup.index:
            raise SecAggError(f"Party {self.me:x} is not in this round.")
        if public_bytes(self.agreement_key) != self.setup.agreement_keys[self.me]:
            raise SecAggError("This agreement key is not the one published on chain.")
        if self.pairs is None:
            self.pairs = PairSecrets(self.agreement_key)
        elif self.pairs.public_key != self.setup.agreement_keys[self.me]:
            raise SecAggError("These pair secrets belong to another agreement key.")

    @property
    def _pairs(self) -> PairSecrets:
        assert self.pairs is not None  # set in __post_init__
        return self.pairs

    def _channel_to(self, other: int) -> AESGCM:
        if other not in self._channels:
            setup = self.setup
            shared = self._pairs.shared(setup.agreement_keys[other])
            low, high = sorted((setup.x(self.me), setup.x(other)))
            key = derive(shared, setup.context, f"dain secagg shares {low} {high}")
            self._channels[other] = AESGCM(key)
        return self._channels[other]

    # ---- stage 1: share keys ------------------------------------------------------------

    def share_keys(self, values: np.ndarray | None = None) -> ShareMessage:
        """`values` (the vector to be summed, if known yet) sets the exponent this client
        announces; without it the round uses the setup's full range."""
        setup = self.setup
        holders = sorted(setup.holders_of(self.me), key=setup.x)
        xs = [setup.x(p) for p in holders]
        seed_shares = shamir.split(self._seed, xs, setup.k_threshold)
        key_shares = shamir.split(self._mask_key.private_bytes_raw(), xs, setup.k_threshold)
        ciphertexts = {}
        for party, x in zip(holders, xs, strict=True):
            if party == self.me:
                self._held[self.me] = (seed_shares[x], key_shares[x])
                continue
            plaintext = _PLAINTEXT.pack(
                setup.x(self.me), x,
                shamir.encode_share(seed_shares[x]), shamir.encode_share(key_shares[x]),
            )  # fmt: skip
            nonce = secrets.token_bytes(12)
            sealed = self._channel_to(party).encrypt(nonce, plaintext, setup.context)
            ciphertexts[party] = nonce + sealed
        exponent = (
            exponent_of(values) if values is not None else math.ceil(math.log2(setup.value_range))
        )
        return ShareMessage(self.me, public_bytes(self._mask_key), ciphertexts, exponent)

    # ---- stage 2: masked input ------------------------------------------------------------

    def mask(self, values: np.ndarray, roster: Mapping[int, ShareMessage]) -> np.ndarray:
        """The masked, quantized vector. `roster` is U1 as the aggregator showed it to this
        client; the shares addressed to this client are opened and kept for stage 4.
        Refuses a roster too small to certify a survivor set, or holding fewer than t of
        this client's neighbourhood: with fewer pairwise masks, an aggregator that calls
        those few neighbours dropped could strip them all."""
        setup = self.setup
        keys = {party: message.mask_key for party, message in roster.items()}
        if self._roster and keys != self._roster:  # the same roster again is a retry
            raise SecAggError("This client already masked its input with another roster.")
        if self.me not in roster:
            raise SecAggError("This client is not in the round's roster: it cannot take part.")
        if roster[self.me].mask_key != public_bytes(self._mask_key):
            raise SecAggError("The roster holds another share message for this client.")
        if len(roster) < setup.quorum:
            raise SecAggAborted(f"Only {len(roster)} clients shared keys; {setup.quorum} needed.")
        near = len(setup.holders_of(self.me) & set(roster))
        if near < setup.k_threshold:
            raise SecAggAborted(
                f"The roster holds only {near} of this client's neighbourhood (itself "
                f"included); {setup.k_threshold} needed to keep its input masked."
            )
        values = np.asarray(values).reshape(-1)
        if not np.isfinite(values).all():
            raise SecAggError("The update holds NaN or infinite values: training diverged.")
        if values.size != setup.length:
            raise SecAggError(
                f"The vector has {values.size} entries; the round expects {setup.length}."
            )
        mine = setup.neighbours_of(self.me)
        for party, message in roster.items():
            if party not in setup.index or message.sender != party or len(message.mask_key) != 32:
                raise SecAggError(f"The roster entry for {party:x} is inconsistent.")
        for party in sorted(mine & set(roster)):
            self._open(party, roster[party])
        self._roster = keys
        value_range = setup.value_range_of(roster)
        masked = quantize(values, scale_for(setup.n, value_range), value_range)
        masked += expand(self._seed, setup.length)
        for party in sorted(mine & set(roster)):
            seed = pair_seed(self._mask_key, roster[party].mask_key, setup.context,
                             setup.x(self.me), setup.x(party))  # fmt: skip
            if setup.x(self.me) < setup.x(party):
                masked += expand(seed, setup.length)
            else:
                masked -= expand(seed, setup.length)
        return masked

    def _open(self, owner: int, message: ShareMessage) -> None:
        sealed = message.ciphertexts.get(self.me)
        if sealed is None or len(sealed) < 12:
            raise SecAggError(f"Neighbour {owner:x} sent no shares for this client.")
        try:
            plaintext = self._channel_to(owner).decrypt(
                sealed[:12], sealed[12:], self.setup.context
            )
            x_from, x_to, seed_share, key_share = _PLAINTEXT.unpack(plaintext)
        except (InvalidTag, struct.error):
            raise SecAggError(
                f"The shares from {owner:x} do not decrypt: altered or misrouted."
            ) from None
        if (x_from, x_to) != (self.setup.x(owner), self.setup.x(self.me)):
            raise SecAggError(f"The shares from {owner:x} are addressed to someone else.")
        self._held[owner] = (shamir.decode_share(seed_share), shamir.decode_share(key_share))

    # ---- stage 3: consistency check ------------------------------------------------------

    def consistency_check(
        self, survivors: Collection[int], dropped: Collection[int]
    ) -> ConsistencyCheck:
        """The digest of this client's view, its roster and the survivor set U3 (who sent a
        masked input), with a voucher for it to every other survivor. Refuses a request that
        does not split its roster into survivors and dropped, lists it as dropped, or leaves
        fewer than the quorum in all or fewer than t of its neighbourhood alive; and it
        vouches for one view per round, never another."""
        setup = self.setup
        roster = set(self._roster)
        if not roster:
            raise SecAggError("This client has not masked an input: it has nothing to check.")
        alive, gone = frozenset(survivors), frozenset(dropped)
        if alive & gone or alive | gone != roster:
            raise SecAggError("The survivors and the dropped do not split this client's roster.")
        if self.me not in alive:
            raise SecAggError("This client is listed as dropped; it has nothing to reveal.")
        if len(alive) < setup.quorum:
            raise SecAggAborted(f"Only {len(alive)} survivors; {setup.quorum} needed.")
        near = len(alive & setup.holders_of(self.me))
        if near < setup.k_threshold:
            raise SecAggAborted(
                f"Only {near} of this client's neighbourhood (itself included) survived; "
                f"{setup.k_threshold} needed."
            )
        digest = setup.consistency_digest(self._roster, alive)
        if self._signed is not None and self._signed[1] != digest:
            raise SecAggError("This client already signed another survivor set this round.")
        self._signed = (alive, digest)
        vouchers = {
            party: self._pairs.voucher(setup.agreement_keys[party], self.me, digest)
            for party in sorted(alive - {self.me})
        }
        return ConsistencyCheck(self.me, digest, vouchers)

    # ---- stage 4: unmask ----------------------------------------------------------------

    def unmask(
        self,
        survivors: Collection[int],
        dropped: Collection[int],
        vouchers: Mapping[int, bytes],
    ) -> UnmaskResponse:
        """The shares the sum needs, once the survivors' `vouchers` to this client (sender
        -> MAC) show that at least the quorum of them, itself included, vouched for the very
        view it vouched for. Refuses a request for another survivor set than its own, and
        never reveals both secrets of anyone."""
        setup = self.setup
        if self._signed is None:
            raise SecAggError("This client has not signed a survivor set: it reveals nothing.")
        alive, digest = self._signed
        roster = set(self._roster)
        if frozenset(survivors) != alive or frozenset(dropped) != roster - alive:
            raise SecAggError("The unmask request names another survivor set than the one signed.")
        vouching = 1 + sum(
            1
            for sender, voucher in vouchers.items()
            if sender in alive and sender != self.me
            and hmac.compare_digest(
                voucher, self._pairs.voucher(setup.agreement_keys[sender], sender, digest)
            )
        )  # fmt: skip
        if vouching < setup.quorum:
            raise SecAggAborted(
                f"Only {vouching} survivors vouched for the view this client signed; "
                f"{setup.quorum} needed before it reveals any share."
            )
        seeds, keys = {}, {}
        for owner, (seed_share, key_share) in self._held.items():
            if owner not in roster:
                continue
            kind = "seed" if owner in alive else "key"
            if self._revealed.setdefault(owner, kind) != kind:
                raise SecAggError(f"Revealing both secrets of {owner:x} would expose its input.")
            if kind == "seed":
                seeds[owner] = seed_share
            else:
                keys[owner] = key_share
        return UnmaskResponse(self.me, seeds, keys)
