"""Contribution valuation: from the receipts a job used to each asset's share of the pool,
and the payout rule the Jobs contract applies, for checking and display."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

BPS = 10_000


def contribution_weights(uses: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Weight per asset = examples it trained on, summed over the rounds it took part in.
    `uses` holds one (asset id, examples) pair per accepted receipt, as on chain."""
    weights: dict[int, int] = {}
    for asset_id, examples in uses:
        weights[asset_id] = weights.get(asset_id, 0) + int(examples)
    return weights


def to_basis_points(weights: Mapping[int, int]) -> dict[int, int]:
    """Shares in basis points summing to exactly 10,000 (largest remainder method), in
    integers so that a contract can repeat it: each asset gets w * 10,000 // total, and the
    basis points left go one each to the largest remainders w * 10,000 % total, ties to the
    lower asset id. An asset of weight 0 gets 0 (its remainder is 0 and fewer basis points
    are left than assets with a positive remainder); at least one weight must be positive."""
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError("weights must be non-negative with at least one positive")
    total = sum(weights.values())
    shares = {a: w * BPS // total for a, w in weights.items()}
    by_remainder = sorted(weights, key=lambda a: (-(weights[a] * BPS % total), a))
    for asset in by_remainder[: BPS - sum(shares.values())]:
        shares[asset] += 1
    return shares


def payouts(
    pool: int,
    rounds: int,
    rounds_used: Mapping[int, int],
    prices: Mapping[int, int],
    shares_bps: Mapping[int, int],
    floor_bps: int,
) -> dict[int, int]:
    """What the Jobs contract owes each asset at completion: its price per round used
    first; then `floor_bps` of the rest split equally among assets that took part in every
    round; the remainder by shares; rounding dust to the lowest asset id."""
    owed = {a: prices.get(a, 0) * used for a, used in rounds_used.items()}
    remaining = pool - sum(owed.values())
    full = [a for a in shares_bps if rounds_used.get(a, 0) == rounds]
    floor_each = remaining * floor_bps // BPS // len(full) if full else 0
    rest = remaining - floor_each * len(full)
    paid = 0
    for asset in sorted(shares_bps):
        amount = rest * shares_bps[asset] // BPS + (floor_each if asset in full else 0)
        owed[asset] = owed.get(asset, 0) + amount
        paid += amount
    owed[min(shares_bps)] += remaining - paid
    return owed
