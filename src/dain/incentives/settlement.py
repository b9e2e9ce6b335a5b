"""What the Jobs contract pays each asset of a closed job, repeated integer for integer, so
that anyone can check a settlement from the chain's records (and the contract's tests can
check the contract). Nobody chooses the amounts: they follow from the pool, the prices fixed
at enrollment, and what the accepted receipts and recorded values say.

1. What the owners share. A completed job: the whole pool. A job its requester cancels
   after r of its R rounds (only possible before the last one): the prices of the rounds
   done, plus r/R of what the pool holds beyond all rounds' prices,

       to_owners = price_per_round * r + (pool - price_per_round * R) * r // R

   and the requester gets the rest back at once (`cancel_split`). If no asset's data was
   used at all, the owners' part goes back to the requester too.
2. Prices first: each used asset gets its price per round (fixed when it enrolled) for
   every round its data was used in.
3. Of the rest, `floor_bps` / 10,000 is split equally among the assets used in every round
   paid for (in a job that samples per round: every round paid for whose sample held the
   asset; none if no asset was), and the remainder by weight = examples x quality, where
   examples are summed over the asset's accepted receipts and quality is
   `dain.incentives.quality.quality` of the values recorded for it (FULL_AT when none
   were); by examples alone when every weight is 0.
4. Amounts are cut from running sums in the job's enrollment order: the asset whose
   weights before it sum to W_before gets floor(rest * (W_before + w) / W) -
   floor(rest * W_before / W) (the floor share likewise by rank among the assets used in
   every round). The parts add up to each pool exactly: no dust is left in escrow, and each
   amount is within one base unit of the exact proportion.

Unlike `payouts`, which takes shares in basis points, weights here are not rounded to
basis points first: the contract computes the proportion itself, to the base unit."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from dain.incentives.quality import FULL_AT, quality
from dain.incentives.shares import BPS


@dataclass(frozen=True)
class AssetUse:
    """One enrolled asset as a closed job's records have it."""

    asset: int
    price: int = 0  # per round used, fixed at enrollment
    rounds_used: int = 0  # rounds whose record accepted its receipt
    examples: int = 0  # summed over those receipts
    # values recorded for it, by the aggregator (judge) that recorded them
    values: Mapping[Hashable, Sequence[int]] = field(default_factory=dict)
    # rounds paid for whose sample held it (dain.ledger.sampling); None: every one
    rounds_sampled: int | None = None


def cancel_split(pool: int, price_per_round: int, rounds: int, rounds_done: int) -> tuple[int, int]:
    """(what the owners share, what the requester gets back) when the requester cancels
    after `rounds_done` of `rounds` rounds; `price_per_round` is the sum of the enrolled
    assets' prices (step 1)."""
    if rounds_done == 0:
        return 0, pool
    reserved = price_per_round * rounds
    to_owners = price_per_round * rounds_done + (pool - reserved) * rounds_done // rounds
    return to_owners, pool - to_owners


def _cut(pool: int, before: int, mine: int, total: int) -> int:
    return pool * (before + mine) // total - pool * before // total if total else 0


def settle(
    to_owners: int, rounds_paid: int, floor_bps: int, enrolled: Iterable[AssetUse]
) -> dict[int, int]:
    """What each asset used is owed, by asset id, from `to_owners` (step 1) over assets in
    enrollment order (unused ones may be included: they get nothing). Empty when no asset
    was used: everything goes back to the requester."""
    used = [a for a in enrolled if a.rounds_used > 0]
    if not used:
        return {}
    qualities = {a.asset: quality(a.values) if a.values else FULL_AT for a in used}
    weights = {a.asset: a.examples * qualities[a.asset] for a in used}
    by_examples = not any(weights.values())
    if by_examples:
        weights = {a.asset: a.examples for a in used}
    due = {a.asset: rounds_paid if a.rounds_sampled is None else a.rounds_sampled for a in used}
    full = [a.asset for a in used if a.rounds_used >= due[a.asset]]
    rest = to_owners - sum(a.price * a.rounds_used for a in used)
    floor_pool = rest * floor_bps // BPS if full else 0
    share_pool = rest - floor_pool
    total = sum(weights.values())
    owed, before = {}, 0
    for a in used:
        amount = a.price * a.rounds_used + _cut(share_pool, before, weights[a.asset], total)
        if a.asset in full:
            amount += _cut(floor_pool, full.index(a.asset), 1, len(full))
        owed[a.asset] = amount
        before += weights[a.asset]
    return owed
