"""Secure aggregation of one round (Bonawitz et al. 2017, with the sparse SecAgg+ graph
of Bell et al. 2020). The aggregator learns the sum of the survivors' vectors and nothing
else about any one of them, even when clients drop out part-way.

Stages, each closed by the aggregator (on a deadline or when everyone answered):
1. share keys: every client makes a fresh mask key pair and a self-mask seed, splits the
   seed and the private mask key t-of-(k+1) among itself and its k neighbours, and sends
   each share encrypted (AES-GCM, key from X25519 of the long-term agreement keys
   published on chain) through the aggregator. Those who did form U1.
2. masked input: every client in U1 quantizes its vector to the ring of integers mod
   2^32 and adds its self mask and one pairwise mask per neighbour in U1 (added towards
   higher-index neighbours, subtracted towards lower). Those who sent one form U2.
3. unmask: every client of U2 returns, for each neighbour, the share of the self-mask
   seed if that neighbour is in U2, or of the private mask key if it dropped; never both.
   With t shares of each, the aggregator removes the self masks of U2 and the dangling
   pairwise masks of the dropped; the pairwise masks between survivors cancel.
Fewer than t shares for any secret the sum needs, or fewer than t survivors: the round is
aborted (`SecAggAborted`), and nothing about the inputs is learned."""

from __future__ import annotations

import hashlib
import math
import secrets
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from dain.learning.errors import SecAggAborted, SecAggError
from dain.learning.secagg import shamir
from dain.learning.secagg.masking import (
    RING,
    default_degree,
    dequantize,
    derive,
    expand,
    neighbours,
    pair_seed,
    quantize,
    scale_for,
)

MIN_EXPONENT, MAX_EXPONENT = -60, 60


def exponent_of(values: np.ndarray) -> int:
    """The smallest e (within bounds) with every |value| <= 2^e."""
    largest = float(np.max(np.abs(values))) if np.size(values) else 0.0
    if not np.isfinite(largest):
        raise SecAggError("The update holds NaN or infinite values: training diverged.")
    if not largest > 0:
        return MIN_EXPONENT
    return int(np.clip(math.ceil(math.log2(largest)), MIN_EXPONENT, MAX_EXPONENT))


_PLAINTEXT = struct.Struct(f">II{shamir.SHARE_BYTES}s{shamir.SHARE_BYTES}s")


def public_bytes(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class RoundSetup:
    """What every party of a round agrees on before it starts: who takes part, their
    long-term agreement keys (from chain), the threshold, the graph and the vector."""

    parties: tuple[int, ...]  # party ids (asset ids), sorted
    agreement_keys: Mapping[int, bytes]  # party -> X25519 public key (32 bytes)
    length: int  # entries in each vector
    value_range: float  # the widest range a round may use; beyond it values are clipped
    context: bytes  # binds every key and ciphertext to one job and round
    degree: int = 0  # neighbours per client; 0: default_degree(n)
    threshold: int = 0  # shares needed per secret; 0: a majority of each neighbourhood

    def __post_init__(self) -> None:
        if list(self.parties) != sorted(set(self.parties)) or len(self.parties) < 2:
            raise SecAggError("Secure aggregation needs two or more distinct parties, sorted.")
        missing = [p for p in self.parties if len(self.agreement_keys.get(p, b"")) != 32]
        if missing:
            raise SecAggError(
                f"{len(missing)} parties have no 32-byte agreement key on chain "
                f"(e.g. {missing[0]:x})."
            )
        if not 1 <= self.k_threshold <= self.k_degree + 1:
            raise SecAggError(
                f"Threshold {self.k_threshold} must be between 1 and {self.k_degree + 1}."
            )

    @property
    def n(self) -> int:
        return len(self.parties)

    @property
    def k_degree(self) -> int:
        return self.degree or default_degree(self.n)

    @property
    def k_threshold(self) -> int:
        return self.threshold or (self.k_degree + 1) // 2 + 1

    @cached_property
    def index(self) -> dict[int, int]:
        return {party: i for i, party in enumerate(self.parties)}

    @cached_property
    def graph(self) -> list[set[int]]:
        return neighbours(self.n, self.k_degree, self.context)

    def value_range_of(self, roster: Mapping[int, ShareMessage]) -> float:
        """The round's range: the smallest power of two that holds every roster client's
        largest value (each announced only that exponent), capped by `value_range`. Fixed
        point then keeps about 24 bits of each update whatever its size."""
        widest = max(message.exponent for message in roster.values())
        return min(self.value_range, 2.0**widest)

    def neighbours_of(self, party: int) -> set[int]:
        return {self.parties[j] for j in self.graph[self.index[party]]}

    def x(self, party: int) -> int:
        """The party's Shamir x-coordinate."""
        return self.index[party] + 1


def round_context(chain_id: int, contract: str, job_id: int, round: int) -> bytes:
    """Binds a round's keys and ciphertexts to one chain, contract, job and round."""
    label = f"dain secagg/{chain_id}/{contract.lower()}/{job_id}/{round}"
    return hashlib.sha256(label.encode()).digest()


@dataclass(frozen=True)
class ShareMessage:
    """Stage 1 from one client: its fresh public mask key and, per neighbour, the
    encrypted shares of its self-mask seed and private mask key."""

    sender: int
    mask_key: bytes
    ciphertexts: Mapping[int, bytes]  # recipient party -> nonce || AES-GCM ciphertext
    exponent: int = 0  # the smallest e with every |value| <= 2^e (see value_range_of)

    def to_dict(self) -> dict[str, object]:
        return {
            "sender": str(self.sender),
            "mask_key": self.mask_key.hex(),
            "exponent": self.exponent,
            "ciphertexts": {str(k): v.hex() for k, v in sorted(self.ciphertexts.items())},
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, object]) -> ShareMessage:
        try:
            ciphertexts = raw["ciphertexts"]
            assert isinstance(ciphertexts, dict)
            exponent = raw.get("exponent", 0)
            assert isinstance(exponent, int) and MIN_EXPONENT <= exponent <= MAX_EXPONENT
            return cls(
                int(str(raw["sender"])),
                bytes.fromhex(str(raw["mask_key"])),
                {int(k): bytes.fromhex(str(v)) for k, v in ciphertexts.items()},
                exponent,
            )
        except (KeyError, ValueError, TypeError, AssertionError) as exc:
            raise SecAggError(f"A share message is malformed ({exc!r}).") from exc


@dataclass(frozen=True)
class UnmaskResponse:
    """Stage 3 from one survivor: the shares it holds, of self-mask seeds (for survivors)
    and of private mask keys (for the dropped)."""

    sender: int
    seed_shares: Mapping[int, int]  # owner party -> share
    key_shares: Mapping[int, int]

    def to_dict(self) -> dict[str, object]:
        def encode(shares: Mapping[int, int]) -> dict[str, str]:
            return {str(k): shamir.encode_share(v).hex() for k, v in sorted(shares.items())}

        return {
            "sender": str(self.sender),
            "seed_shares": encode(self.seed_shares),
            "key_shares": encode(self.key_shares),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, object]) -> UnmaskResponse:
        def decode(shares: object) -> dict[int, int]:
            assert isinstance(shares, dict)
            return {int(k): shamir.decode_share(bytes.fromhex(str(v))) for k, v in shares.items()}

        try:
            return cls(
                int(str(raw["sender"])), decode(raw["seed_shares"]), decode(raw["key_shares"])
            )
        except (KeyError, ValueError, TypeError, AssertionError) as exc:
            raise SecAggError(f"An unmask message is malformed ({exc!r}).") from exc


def _channel(setup: RoundSetup, mine: X25519PrivateKey, me: int, other: int) -> AESGCM:
    shared = mine.exchange(X25519PublicKey.from_public_bytes(setup.agreement_keys[other]))
    low, high = sorted((setup.x(me), setup.x(other)))
    return AESGCM(derive(shared, setup.context, f"dain secagg shares {low} {high}"))


@dataclass
class SecAggClient:
    """One client's side of a round. Keep it for the whole round: it holds the round's
    secrets and remembers what it revealed, so it never reveals both secrets of anyone."""

    setup: RoundSetup
    me: int
    agreement_key: X25519PrivateKey  # long-term; its public half is on chain
    _mask_key: X25519PrivateKey = field(default_factory=X25519PrivateKey.generate)
    _seed: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    _held: dict[int, tuple[int, int]] = field(default_factory=dict)  # owner -> my shares
    _roster: dict[int, bytes] = field(default_factory=dict)  # U1: party -> public mask key
    _revealed: dict[int, str] = field(default_factory=dict)  # owner -> "seed" | "key"
    _channels: dict[int, AESGCM] = field(default_factory=dict)  # one key agreement per peer

    def __post_init__(self) -> None:
        if self.me not in self.setup.index:
            raise SecAggError(f"Party {self.me:x} is not in this round.")
        if public_bytes(self.agreement_key) != self.setup.agreement_keys[self.me]:
            raise SecAggError("This agreement key is not the one published on chain.")

    def _channel_to(self, other: int) -> AESGCM:
        if other not in self._channels:
            self._channels[other] = _channel(self.setup, self.agreement_key, self.me, other)
        return self._channels[other]

    def share_keys(self, values: np.ndarray | None = None) -> ShareMessage:
        """Stage 1. `values` (the vector to be summed, if known yet) sets the exponent
        this client announces; without it the round uses the setup's full range."""
        setup = self.setup
        holders = sorted(setup.neighbours_of(self.me) | {self.me}, key=setup.x)
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

    def mask(self, values: np.ndarray, roster: Mapping[int, ShareMessage]) -> np.ndarray:
        """Stage 2: the masked, quantized vector. `roster` is U1 as the aggregator closed
        it; the shares addressed to this client are opened and kept for stage 3."""
        setup = self.setup
        if self.me not in roster:
            raise SecAggError("This client is not in the round's roster: it cannot take part.")
        if roster[self.me].mask_key != public_bytes(self._mask_key):
            raise SecAggError("The roster holds another share message for this client.")
        if len(roster) < setup.k_threshold:
            raise SecAggAborted(
                f"Only {len(roster)} clients shared keys; {setup.k_threshold} needed."
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
            self._roster[party] = message.mask_key
            if party in mine:
                self._open(party, message)
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

    def unmask(self, survivors: set[int], dropped: set[int]) -> UnmaskResponse:
        """Stage 3. Refuses a request that would reveal both secrets of anyone, or that
        does not split the roster into survivors and dropped."""
        roster = set(self._roster)
        if survivors & dropped or (survivors | dropped) != roster:
            raise SecAggError("The unmask request does not split the round's roster in two.")
        if len(survivors) < self.setup.k_threshold:
            raise SecAggAborted(
                f"Only {len(survivors)} survivors; {self.setup.k_threshold} needed."
            )
        if self.me not in survivors:
            raise SecAggError("This client is listed as dropped; it has nothing to reveal.")
        seeds, keys = {}, {}
        for owner, (seed_share, key_share) in self._held.items():
            if owner not in roster:
                continue
            kind = "seed" if owner in survivors else "key"
            if self._revealed.setdefault(owner, kind) != kind:
                raise SecAggError(f"Revealing both secrets of {owner:x} would expose its input.")
            (seeds if kind == "seed" else keys)[owner] = seed_share if kind == "seed" else key_share
        return UnmaskResponse(self.me, seeds, keys)


@dataclass
class SecAggServer:
    """The aggregator's side of a round: routes shares, collects masked vectors and
    unmask shares, and computes the sum of the survivors' vectors."""

    setup: RoundSetup
    shares: dict[int, ShareMessage] = field(default_factory=dict)
    masked: dict[int, np.ndarray] = field(default_factory=dict)
    responses: dict[int, UnmaskResponse] = field(default_factory=dict)
    roster: dict[int, ShareMessage] | None = None  # U1, once closed
    survivors: frozenset[int] | None = None  # U2, once closed

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
        """U1: everyone who shared keys in time. Below the threshold the round aborts."""
        if self.roster is None:
            self.roster = dict(sorted(self.shares.items()))
        if len(self.roster) < self.setup.k_threshold:
            raise SecAggAborted(
                f"Only {len(self.roster)} clients shared keys; {self.setup.k_threshold} needed."
            )
        return self.roster

    def add_masked(self, sender: int, vector: np.ndarray) -> None:
        if self.roster is None or sender not in self.roster:
            raise SecAggError(f"Party {sender:x} is not in this round's roster.")
        if self.survivors is not None:
            raise SecAggError("Masked inputs for this round are closed.")
        if vector.dtype != RING or vector.shape != (self.setup.length,):
            raise SecAggError(f"A masked input is {self.setup.length} uint32 values.")
        self.masked.setdefault(sender, vector)

    def close_inputs(self) -> tuple[frozenset[int], frozenset[int]]:
        """(U2, dropped): who sent a masked input, and who of the roster did not."""
        if self.roster is None:
            raise SecAggError("Close key sharing first.")
        if self.survivors is None:
            self.survivors = frozenset(self.masked)
        if len(self.survivors) < self.setup.k_threshold:
            raise SecAggAborted(
                f"Only {len(self.survivors)} clients sent masked inputs; "
                f"{self.setup.k_threshold} needed."
            )
        return self.survivors, frozenset(self.roster) - self.survivors

    def add_unmask(self, response: UnmaskResponse) -> None:
        if self.survivors is None or response.sender not in self.survivors:
            raise SecAggError(f"Party {response.sender:x} is not a survivor of this round.")
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
