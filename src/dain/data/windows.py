"""Time series cut into windows: the past `lookback` rows of a time-ordered table predict a
value `horizon` rows after the window's last (a city's load an hour ahead from the last
day of readings).

The rows are taken in file order; the owner's table must already be in time order, one
row per time step. Windows overlap (stride 1) and never cross the end of the table."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from dain.data.datasets import Dataset, is_number
from dain.data.errors import DatasetError


def cut_windows(dataset: Dataset, lookback: int, horizon: int, target: str) -> Dataset:
    """Windows over a time-ordered table: x is (windows, lookback, features) holding every
    feature column, y the `target` value `horizon` rows after each window's last row.

    `target` is either the table's own target or one of its feature columns. The target's
    past values are in the windows only when it is a feature column (forecasting a load
    from past loads); the table's own target column is not a feature. Window i covers rows
    i .. i + lookback - 1 and predicts row i + lookback - 1 + horizon, so a table of n rows
    gives n - lookback - horizon + 1 windows."""
    if dataset.kind != "table":
        raise DatasetError(
            f"Only a table can be cut into windows; '{dataset.name}' is {dataset.kind} data."
        )
    if lookback < 1 or horizon < 1:
        raise DatasetError(
            f"Windows need a lookback and a horizon of at least 1, not {lookback} and {horizon}.",
            hint="lookback: rows each window holds; horizon: rows ahead of the window's last "
            "row that it predicts (1: the next row).",
        )
    series = _target_values(dataset, target)
    count = len(dataset) - lookback - horizon + 1
    if count < 1:
        raise DatasetError(
            f"'{dataset.name}' has {len(dataset)} rows: too few for one window of {lookback} "
            f"rows predicting {horizon} ahead ({lookback + horizon} rows needed).",
            hint="Use a longer series, or a shorter lookback or horizon.",
        )
    # (rows - lookback + 1, features, lookback) views, no copy until the transpose is made
    # contiguous; the last `horizon` windows have nothing to predict
    views = sliding_window_view(dataset.x, lookback, axis=0)[:count]
    x = np.ascontiguousarray(views.transpose(0, 2, 1), dtype=np.float32)
    y = series[lookback - 1 + horizon :].astype(np.float32)
    return Dataset(dataset.name, x, y, dataset.feature_names, target, (), "series")


def _target_values(dataset: Dataset, target: str) -> np.ndarray:
    """The series to forecast, as numbers: a feature column, or the table's target (its
    class names read as numbers when the table was loaded without a schema)."""
    if target in dataset.feature_names:
        return dataset.x[:, dataset.feature_names.index(target)]
    if target != dataset.target:
        raise DatasetError(
            f"'{dataset.name}' has no column '{target}' to forecast.",
            hint=f"Its columns: {', '.join((*dataset.feature_names, dataset.target))}.",
        )
    return numeric_targets(dataset)


def numeric_targets(dataset: Dataset) -> np.ndarray:
    """A dataset's targets as numbers: regression targets as they are; class labels by
    their names, which must then be numbers (a CSV read without a schema names its target
    values as classes)."""
    if dataset.is_regression:
        return dataset.y.astype(np.float32)
    try:
        values = np.array([float(c) for c in dataset.classes], dtype=np.float32)
    except ValueError:
        bad = next(c for c in dataset.classes if not is_number(c))
        raise DatasetError(
            f"'{dataset.name}': target '{dataset.target}' holds '{bad}', which is not a number.",
            hint="A forecast or regression target must be numeric.",
        ) from None
    if not np.isfinite(values).all():
        raise DatasetError(f"'{dataset.name}': target '{dataset.target}' has NaN or infinities.")
    return values[dataset.y] if len(dataset.y) else np.zeros(0, np.float32)
