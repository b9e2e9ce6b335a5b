"""Contribution valuation and reward shares."""

from dain.incentives.shares import contribution_weights, split_pool

__all__ = ["contribution_weights", "split_pool"]
