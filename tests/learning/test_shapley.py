"""Shapley values of small games given as tables of coalition worths: cases checked by hand,
and the axioms (efficiency, symmetry, null player) as properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dain.learning import LearningError
from dain.learning.shapley import exact_shapley, gtg_shapley, leave_one_out


def table_game(worths: dict[frozenset[int], float], calls: list[int] | None = None):
    """A game whose coalition worths come from a table (missing coalitions are worth 0)."""

    def utility(masks: np.ndarray) -> np.ndarray:
        if calls is not None:
            calls.append(len(masks))
        return np.array([worths.get(frozenset(np.flatnonzero(m).tolist()), 0.0) for m in masks])

    return utility


def code_game(worth_of_code: np.ndarray):
    """A game over n players whose coalition with bit code c is worth worth_of_code[c]."""

    def utility(masks: np.ndarray) -> np.ndarray:
        codes = (masks.astype(np.int64) << np.arange(masks.shape[1])).sum(axis=1)
        return worth_of_code[codes]

    return utility


def test_two_players_one_useless_by_hand() -> None:
    game = table_game({frozenset({0}): 1.0, frozenset({0, 1}): 1.0})

    exact = exact_shapley(game, 2)

    assert exact.values.tolist() == [1.0, 0.0]
    assert exact.evaluations == 4
    assert leave_one_out(game, 2).values.tolist() == [1.0, 0.0]
    gtg = gtg_shapley(game, 2, np.random.default_rng(0))
    assert gtg.values.tolist() == [1.0, 0.0]


def test_substitutes_split_the_value_and_leave_one_out_gives_them_nothing() -> None:
    # either player alone gets the whole worth: the FedAvg game of two identical updates
    game = table_game({frozenset({0}): 1.0, frozenset({1}): 1.0, frozenset({0, 1}): 1.0})

    assert exact_shapley(game, 2).values.tolist() == [0.5, 0.5]
    assert leave_one_out(game, 2).values.tolist() == [0.0, 0.0]


def test_three_player_glove_game_by_hand() -> None:
    # player 0 holds a left glove, players 1 and 2 a right one; a pair is worth 1:
    # phi_0 = 2/3, phi_1 = phi_2 = 1/6
    pairs = {frozenset(s): 1.0 for s in ({0, 1}, {0, 2}, {0, 1, 2})}

    values = exact_shapley(table_game(pairs), 3).values

    assert values == pytest.approx([2 / 3, 1 / 6, 1 / 6])


def random_game(draw: st.DrawFn, players: int) -> np.ndarray:
    worths = draw(st.lists(st.floats(-10, 10), min_size=1 << players, max_size=1 << players))
    return np.asarray(worths)


@given(st.data(), st.integers(1, 6))
def test_exact_values_add_up_to_the_grand_coalition(data: st.DataObject, players: int) -> None:
    worths = random_game(data.draw, players)

    estimate = exact_shapley(code_game(worths), players)

    assert estimate.values.sum() == pytest.approx(worths[-1] - worths[0], abs=1e-9)
    assert (estimate.worth_empty, estimate.worth_all) == (worths[0], worths[-1])


@given(st.data(), st.integers(2, 5))
def test_players_who_add_the_same_everywhere_get_the_same(
    data: st.DataObject, players: int
) -> None:
    # players 0 and 1 are interchangeable: a coalition's worth depends on how many of the
    # two it holds, not which
    worths = random_game(data.draw, players)
    codes = np.arange(1 << players)
    swapped = (codes & ~0b11) | ((codes & 1) << 1) | ((codes >> 1) & 1)
    symmetric = np.maximum(worths, worths[swapped])

    values = exact_shapley(code_game(symmetric), players).values

    assert values[0] == pytest.approx(values[1], abs=1e-9)


@given(st.data(), st.integers(2, 5), st.sampled_from(["exact", "loo", "gtg"]))
@settings(deadline=None)
def test_a_player_that_adds_nothing_gets_nothing(
    data: st.DataObject, players: int, method: str
) -> None:
    # the last player is null: a coalition is worth what it is worth without it
    worths = random_game(data.draw, players)
    codes = np.arange(1 << players)
    null = worths[codes & ~(1 << (players - 1))]

    game = code_game(null)
    if method == "exact":
        values = exact_shapley(game, players).values
    elif method == "loo":
        values = leave_one_out(game, players).values
    else:
        values = gtg_shapley(game, players, np.random.default_rng(0)).values

    assert values[-1] == 0.0


def test_gtg_comes_close_to_exact_and_puts_every_player_first_equally_often() -> None:
    rng = np.random.default_rng(1)
    players = 6
    weights = rng.uniform(0.2, 1.0, players)
    codes = np.arange(1 << players)
    masks = ((codes[:, None] >> np.arange(players)) & 1).astype(bool)
    worths = np.sqrt(masks @ weights)  # diminishing returns, as more data gives
    game = code_game(worths)

    exact = exact_shapley(game, players).values
    gtg = gtg_shapley(game, players, np.random.default_rng(2), tolerance=0.01)

    assert gtg.permutations % players == 0  # whole guided cycles
    assert np.abs(gtg.values - exact).mean() < 0.05 * np.abs(exact).mean()
    assert gtg.evaluations <= 1 << players


def test_gtg_truncates_a_round_that_gained_nothing_and_caches_coalitions() -> None:
    calls: list[int] = []
    flat = table_game({frozenset({0}): 1.0, frozenset({1}): -1.0}, calls)

    estimate = gtg_shapley(flat, 2, np.random.default_rng(0), round_truncation=0.5)

    assert estimate.values.tolist() == [0.0, 0.0] and estimate.permutations == 0
    assert sum(calls) == 2  # only the empty and the grand coalition
    calls.clear()
    untruncated = gtg_shapley(flat, 2, np.random.default_rng(0))
    assert sum(calls) == 4  # every coalition once, however many permutations
    # nothing gained, yet the two told apart: guided cycles of two players are exact
    assert untruncated.values.tolist() == [1.0, -1.0]


def test_refuses_games_it_cannot_play() -> None:
    with pytest.raises(LearningError):
        exact_shapley(code_game(np.zeros(1)), 0)
    with pytest.raises(LearningError):
        exact_shapley(code_game(np.zeros(2)), 21)
    with pytest.raises(LearningError, match="not finite"):
        exact_shapley(code_game(np.array([0.0, np.nan])), 1)
