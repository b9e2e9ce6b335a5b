"""Data quality from contribution values: what a round's aggregator records with each
receipt, and the robust per-asset statistic the Jobs contract computes from those records.
Everything after step 1 is integer arithmetic that the contract repeats bit for bit.

1. Per receipt, off chain, by the round's aggregator (`encode_round`). From the Shapley
   values phi_i of the round's valued updates (`dain.learning.value_updates`):

       value_i = clamp(round_half_even(VALUE_ONE * phi_i / scale), -32768, 32767)

   where scale is the median of |phi_j| over the round's valued receipts (the mean of the
   two middle ones for an even count), or their mean if that median is 0; every value is 0
   if all phi are 0. An int16 in thousandths of the round's typical update: 1000 is a
   typical update, 0 a useless one, negative a harmful one; range -32.768 .. 32.767,
   resolution 0.001. Dividing by the round's own scale makes rounds comparable (a loss
   decrease of 0.3 early in a job and of 0.003 late can both be typical); the median keeps
   one very harmful update from shrinking everyone else's value. A receipt of an asset whose
   owner is the round's aggregator records no value: the contract ignores whatever the
   aggregator sent for it (an aggregator never values its own data).

2. Per asset, on chain. A recorded value counts as

       credit(v) = min(max(v, 0), FULL_AT)        FULL_AT = 500, so 0 .. 500

   An update worth at least half a typical one earns full credit; below that credit falls
   linearly to 0 at 0, and harmful updates earn 0. This tolerance is what keeps clean owners
   from being punished by noise: a clean update's value scatters around 1000 from round to
   round and judge to judge (bench/valuation.py, ten seeds: the lowest clean owner's median
   over judges of their mean values was 690), and all of that scatter earns the same.

   Values are grouped by the aggregator that recorded them (its judge). Each judge j that
   recorded n_j >= 1 values for the asset gives the mean credit m_j = sum credit // n_j
   (floor), and the asset's quality is the lower median over its J judges:

       quality = sorted(m_j)[(J - 1) // 2]   for J >= MIN_JUDGES = 3;   FULL_AT otherwise

   An asset no round valued (secure aggregation) is paid by examples alone, and so is one
   fewer than three judges valued: with two, the lower median is the smaller, which one
   liar alone sets; with one, that judge decides alone. Why
   judges and not rounds: one aggregator records all of its rounds' values, so robustness
   against it is worth something only counted per aggregator. Elections are random per round,
   and one aggregator drew 6 of 20 rounds in one of ten runs of the bench; with a median over
   rounds that liar, plus two owners whose bad held-out data made them misjudge, held half of
   an honest owner's values and took its share from 12 points to 0. Over judges, f <= m
   dishonest judges (m = (J - 1) // 2) keep the quality between the honest judges' sorted
   means H[m - f] and H[m], however many rounds they aggregated.

   Contract state: per (job, asset, aggregator) the sum of credits and the count of values
   (a uint64 and a uint32 share one slot); one storage write per valued receipt, whatever
   the number of rounds. At completion, per asset,
   read the judges' tallies (the job's candidates list names them), take the floor means of
   those with a count, sort (insertion sort: at most one per candidate) and take the lower
   median.

3. Shares: weight_a = examples_a * quality_a (examples summed over the asset's receipts,
   `contribution_weights`), turned into basis points by `to_basis_points`. If every weight is
   0 (no asset was worth anything), the weights fall back to the examples alone. The pool is
   then paid by `payouts`, whose floor share goes to every asset that took part in every
   round, a quality of 0 included."""

from __future__ import annotations

import math
import statistics
from collections.abc import Hashable, Iterable, Mapping
from typing import NamedTuple, TypeVar

from dain.incentives.shares import contribution_weights, to_basis_points

VALUE_ONE = 1_000  # a typical update's value: the round's median |value|
VALUE_MIN, VALUE_MAX = -(2**15), 2**15 - 1  # int16
FULL_AT = 500  # values at or above this earn full credit
MIN_JUDGES = 3  # fewer judges than this and quality stays full: one could decide alone

K = TypeVar("K")


class ValuedReceipt(NamedTuple):
    """What the chain holds of one receipt for quality: the asset, its examples, the round's
    aggregator, and the value it recorded (None for the aggregator's own assets, or when the
    job runs secure aggregation and nothing is valued)."""

    asset: int
    examples: int
    aggregator: Hashable
    value: int | None


def encode_round(values: Mapping[K, float]) -> dict[K, int]:
    """One round's Shapley values as the int16 each valued receipt records (step 1)."""
    sizes = [abs(float(v)) for v in values.values()]
    if not all(math.isfinite(size) for size in sizes):
        raise ValueError("contribution values must be finite")
    scale = statistics.median(sizes) if sizes else 0.0
    if scale == 0.0:
        scale = sum(sizes) / len(sizes) if sizes else 0.0
    if scale == 0.0:
        return dict.fromkeys(values, 0)
    # clamped before rounding: next to a tiny scale a value's ratio can overflow to infinity
    return {key: round(max(VALUE_MIN, min(VALUE_MAX, VALUE_ONE * float(v) / scale)))
            for key, v in values.items()}  # fmt: skip


def credit(value: int) -> int:
    """A recorded value's credit, 0 .. FULL_AT (step 2)."""
    if not VALUE_MIN <= value <= VALUE_MAX:
        raise ValueError(f"a recorded value is an int16, not {value}")
    return min(max(value, 0), FULL_AT)


def quality(values_by_judge: Mapping[Hashable, Iterable[int]]) -> int:
    """An asset's quality, 0 .. FULL_AT, from the values each judge (aggregator) recorded for
    it: the lower median over judges of each judge's floor-mean credit, or FULL_AT with fewer
    than MIN_JUDGES judges (step 2)."""
    means = []
    for values in values_by_judge.values():
        credits = [credit(v) for v in values]
        if credits:
            means.append(sum(credits) // len(credits))
    means.sort()
    return means[(len(means) - 1) // 2] if len(means) >= MIN_JUDGES else FULL_AT


def quality_weights(receipts: Iterable[ValuedReceipt]) -> dict[int, int]:
    """Weight per asset = its examples over all its receipts x its quality (step 3)."""
    receipts = list(receipts)
    judged: dict[int, dict[Hashable, list[int]]] = {r.asset: {} for r in receipts}
    for r in receipts:
        if r.value is not None:
            judged[r.asset].setdefault(r.aggregator, []).append(r.value)
    examples = contribution_weights((r.asset, r.examples) for r in receipts)
    return {asset: n * quality(judged[asset]) for asset, n in examples.items()}


def shares_by_value(receipts: Iterable[ValuedReceipt]) -> dict[int, int]:
    """Basis points per asset from examples x quality, summing to 10,000; by examples alone
    when every weight is 0 (step 3)."""
    receipts = list(receipts)
    weights = quality_weights(receipts)
    if not any(weights.values()):
        weights = contribution_weights((r.asset, r.examples) for r in receipts)
    return to_basis_points(weights)
