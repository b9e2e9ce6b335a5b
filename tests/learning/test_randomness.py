"""Privacy's randomness from the operating system's CSPRNG: the distributions it promises,
and a fresh draw on every call."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from dain.learning.randomness import normal, uniform

# a Kolmogorov-Smirnov test fails a correct sampler this rarely
FALSE_ALARM = 1e-6


def test_uniform_draws_are_uniform_on_the_unit_interval_and_never_repeat() -> None:
    draws = uniform(200_000)
    assert draws.dtype == np.float64 and draws.shape == (200_000,)
    assert draws.min() >= 0.0 and draws.max() < 1.0
    assert stats.kstest(draws, "uniform").pvalue > FALSE_ALARM
    assert not np.array_equal(uniform(64), uniform(64))


def test_normal_draws_follow_the_gaussian_with_the_asked_deviation() -> None:
    # more than one block (2^18 values), so the blocks are checked too
    draws = normal(2.5, (300_000,))
    assert stats.kstest(draws / 2.5, "norm").pvalue > FALSE_ALARM
    assert not np.array_equal(normal(1.0, 64), normal(1.0, 64))


@settings(max_examples=30, deadline=None)
@given(
    shape=st.lists(st.integers(0, 40), min_size=0, max_size=3).map(tuple),
    std=st.floats(1e-12, 1e6),
)
def test_normal_draws_have_the_asked_shape_and_are_finite(
    shape: tuple[int, ...], std: float
) -> None:
    draws = normal(std, shape)
    assert draws.shape == shape and draws.dtype == np.float64
    assert np.isfinite(draws).all()
    # four Box-Muller draws of at most 8.6 sigma each, summed and halved
    assert (np.abs(draws) <= 2 * 8.6 * std).all()
