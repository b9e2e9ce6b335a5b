"""Contribution valuation and reward shares."""

from dain.incentives.shares import BPS, contribution_weights, payouts, to_basis_points

__all__ = ["BPS", "contribution_weights", "payouts", "to_basis_points"]
