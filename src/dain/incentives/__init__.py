"""Contribution valuation and reward shares: from the receipts a job used, and the values its
aggregators recorded with them, to each asset's share of the pool."""

from dain.incentives.quality import (
    FULL_AT,
    MIN_JUDGES,
    VALUE_MAX,
    VALUE_MIN,
    VALUE_ONE,
    ValuedReceipt,
    credit,
    encode_round,
    quality,
    quality_weights,
    shares_by_value,
)
from dain.incentives.shares import BPS, contribution_weights, payouts, to_basis_points

__all__ = [
    "BPS",
    "FULL_AT",
    "MIN_JUDGES",
    "VALUE_MAX",
    "VALUE_MIN",
    "VALUE_ONE",
    "ValuedReceipt",
    "contribution_weights",
    "credit",
    "encode_round",
    "payouts",
    "quality",
    "quality_weights",
    "shares_by_value",
    "to_basis_points",
]
