"""Time-series windows (issue 14, point 2): each window is the slice of rows it came from,
its target the value `horizon` rows after its last, and there are n - lookback - horizon + 1
of them; a series too short for one window is refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dain.data import Dataset, DatasetError, cut_windows


def _table(rows: int, features: int = 2, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features)).astype(np.float32)
    names = ("load", *(f"f{i}" for i in range(1, features)))
    return Dataset("city", x, rng.normal(size=rows).astype(np.float32), names, "price", ())


@given(
    rows=st.integers(1, 40),
    features=st.integers(1, 3),
    lookback=st.integers(1, 10),
    horizon=st.integers(1, 5),
    by_feature=st.booleans(),
)
def test_each_window_is_its_slice_and_predicts_horizon_ahead(
    rows: int, features: int, lookback: int, horizon: int, by_feature: bool
) -> None:
    table = _table(rows, features, seed=rows)
    target = "load" if by_feature else "price"
    series = table.x[:, 0] if by_feature else table.y
    count = rows - lookback - horizon + 1
    if count < 1:
        with pytest.raises(DatasetError, match="too few for one window"):
            cut_windows(table, lookback, horizon, target)
        return

    windows = cut_windows(table, lookback, horizon, target)

    assert len(windows) == count and windows.kind == "series" and windows.is_regression
    assert windows.x.shape == (count, lookback, features)
    assert windows.feature_names == table.feature_names and windows.target == target
    for i in range(count):
        assert np.array_equal(windows.x[i], table.x[i : i + lookback])
        assert windows.y[i] == series[i + lookback - 1 + horizon]


def test_numeric_class_names_are_read_as_numbers() -> None:
    # a CSV read without a schema names its target's values as classes
    table = Dataset("t", np.arange(8, dtype=np.float32).reshape(4, 2), np.array([1, 0, 1, 2]),
                    ("a", "b"), "load", ("0.5", "2", "7"))  # fmt: skip

    windows = cut_windows(table, 2, 1, "load")

    assert windows.y.tolist() == [2.0, 7.0]


@pytest.mark.parametrize(
    ("lookback", "horizon", "target", "message"),
    [
        (0, 1, "load", "at least 1, not 0 and 1"),
        (2, 0, "load", "at least 1, not 2 and 0"),
        (2, 1, "wind", "no column 'wind'"),
        (9, 2, "load", "10 rows: too few for one window of 9 rows predicting 2 ahead"),
    ],
)
def test_impossible_windows_are_refused(
    lookback: int, horizon: int, target: str, message: str
) -> None:
    with pytest.raises(DatasetError, match=message):
        cut_windows(_table(10), lookback, horizon, target)


def test_text_targets_and_non_tables_cannot_be_cut() -> None:
    labelled = Dataset("t", np.zeros((4, 1), np.float32), np.array([0, 1, 0, 1]), ("a",),
                       "kind", ("cat", "dog"))  # fmt: skip
    images = Dataset("i", np.zeros((4, 1, 2, 2), np.float32), np.zeros(4, np.int64), (),
                     "class", ("a",), "image")  # fmt: skip

    with pytest.raises(DatasetError, match="'cat', which is not a number"):
        cut_windows(labelled, 2, 1, "kind")
    with pytest.raises(DatasetError, match="Only a table can be cut"):
        cut_windows(images, 2, 1, "class")
