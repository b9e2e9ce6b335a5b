"""Contribution valuation: from the receipts a job used to each asset's share of the pool."""

from __future__ import annotations

from collections.abc import Iterable


def contribution_weights(uses: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Weight per asset = examples it trained on, summed over the rounds it took part in.
    `uses` holds one (asset id, examples) pair per accepted receipt, as on chain."""
    weights: dict[int, int] = {}
    for asset_id, examples in uses:
        weights[asset_id] = weights.get(asset_id, 0) + int(examples)
    return weights


def split_pool(pool: int, weights: dict[int, int]) -> dict[int, int]:
    """Integer amounts summing exactly to `pool`, as the Jobs contract pays them: floor of
    the proportional share, the remainder to the lowest asset id."""
    if not weights or any(w <= 0 for w in weights.values()):
        raise ValueError("every asset needs a positive weight")
    total = sum(weights.values())
    ordered = sorted(weights)
    amounts = {a: pool * weights[a] // total for a in ordered}
    amounts[ordered[0]] += pool - sum(amounts.values())
    return amounts
