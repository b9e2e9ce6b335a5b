"""Per-round sampling of a job's assets, as the Jobs contract draws it, so that a node knows
the sample without a chain call per asset.

An asset is in round r's sample iff keccak256(abi.encode(seed, r, assetId)) mod 10,000 is
below the job's rate in basis points: each asset independently (Poisson sampling), from the
job's seed, which the start block's hash fixes. Nobody chooses the sample and everybody can
compute it; the contract refuses a round record naming an asset outside it.

The seed is public, so the sample is no secret: it does not amplify privacy against anyone
who reads the chain (see `dain.learning.privacy`)."""

from __future__ import annotations

from collections.abc import Iterable

from eth_utils import keccak

SAMPLE_SCALE = 10_000  # a rate's scale: basis points of the enrolled assets


def in_sample(seed: bytes, round: int, asset_id: int, rate_bps: int) -> bool:
    """Whether the asset is in round `round`'s sample at rate `rate_bps` (0: every asset),
    exactly as the contract's `sampled` answers."""
    if rate_bps == 0 or rate_bps >= SAMPLE_SCALE:
        return True
    if len(seed) != 32:
        raise ValueError("A job seed is 32 bytes.")
    word = keccak(seed + round.to_bytes(32, "big") + asset_id.to_bytes(32, "big"))
    return int.from_bytes(word, "big") % SAMPLE_SCALE < rate_bps


def sample(seed: bytes, round: int, asset_ids: Iterable[int], rate_bps: int) -> list[int]:
    """Those of `asset_ids` in round `round`'s sample, in their order."""
    return [a for a in asset_ids if in_sample(seed, round, a, rate_bps)]


def count_rate(count: int, enrolled: int) -> int:
    """The rate a job that samples `count` assets a round gets when it starts with
    `enrolled` assets: count / enrolled rounded up, in basis points (0: every asset)."""
    if count <= 0 or enrolled <= 0:
        raise ValueError("A sample count and the assets enrolled are positive.")
    rate = -(-count * SAMPLE_SCALE // enrolled)  # rounded up, as Math.ceilDiv
    return 0 if rate >= SAMPLE_SCALE else rate


def fraction_to_bps(fraction: float) -> int:
    """A fraction in (0, 1] as the contract's basis points (0: every asset), rounded to the
    nearest basis point but never to 0."""
    if not 0 < fraction <= 1:
        raise ValueError(f"A sampling fraction is in (0, 1], not {fraction}.")
    bps = max(1, round(fraction * SAMPLE_SCALE))
    return 0 if bps >= SAMPLE_SCALE else bps
