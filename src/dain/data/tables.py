"""Parquet tables (what data warehouses and pandas export), read with pyarrow: the same
rows as `load_csv` makes of the same table, with the column types the file declares.

Every column but the target must hold numbers (integers, floats, booleans or decimals)
without missing values. Without a schema, a floating-point target is a regression
target and any other (text, integers, booleans) names classes, sorted by value; with a
schema, the schema decides, as for a CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dain.data.datasets import Dataset
from dain.data.errors import DatasetError
from dain.data.schema import InputSchema


def load_parquet(path: Path, target: str, schema: InputSchema | None = None) -> Dataset:
    """A Parquet file's rows: every column but `target` a numeric feature. With a
    `schema`, the columns must be exactly its own, a regression target must be numeric,
    and classes must be among the schema's."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if schema is not None and schema.target != target:
        raise DatasetError(f"The schema's target is '{schema.target}', not '{target}'.")
    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise DatasetError(f"No file at {path}.", hint="Check the path and try again.") from None
    except (pa.ArrowException, OSError) as exc:
        raise DatasetError(f"{path} is not a readable Parquet file ({exc}).") from None
    header = list(table.column_names)
    if target not in header:
        raise DatasetError(
            f"{path} has no column named '{target}'.",
            hint=f"Its columns are: {', '.join(header)}.",
        )
    if schema is not None:
        schema.check(path, header)
    elif len(set(header)) != len(header):
        repeated = sorted({c for c in header if header.count(c) > 1})
        raise DatasetError(f"{path} repeats column(s) {', '.join(repeated)}.")
    if table.num_rows == 0:
        raise DatasetError(f"{path} has no data rows.")
    features = tuple(h for h in header if h != target)
    x = np.empty((table.num_rows, len(features)), np.float32)
    for i, name in enumerate(features):
        x[:, i] = _numbers(path, table.column(name), name, "Every column except the target")
    if not np.isfinite(x).all():
        raise DatasetError(f"{path} contains NaN or infinite values; clean them first.")
    column = table.column(target)
    regression = schema.regression if schema is not None else pa.types.is_floating(column.type)
    if regression:
        y = _numbers(path, column, target, "A regression target")
        if not np.isfinite(y).all():
            raise DatasetError(f"{path}: column '{target}' has NaN or infinite values.")
        return Dataset(path.stem, x, y, features, target, ())
    labels = _labels(path, column, target)
    classes, y = np.unique(labels, return_inverse=True)
    names = tuple(str(c) for c in classes)
    if schema is not None and schema.classes:
        unknown = sorted(set(names) - set(schema.classes))
        if unknown:
            raise DatasetError(
                f"{path}: column '{target}' has values outside the schema: {', '.join(unknown)}.",
                hint=f"Allowed: {', '.join(schema.classes)}.",
            )
    return Dataset(path.stem, x, y.astype(np.int64).reshape(-1), features, target, names)


def _numbers(path: Path, column: Any, name: str, who: str) -> np.ndarray:
    """A numeric column as float32, refusing other types and missing values."""
    import pyarrow as pa

    kind = column.type
    numeric = (pa.types.is_integer(kind) or pa.types.is_floating(kind)
               or pa.types.is_boolean(kind) or pa.types.is_decimal(kind))  # fmt: skip
    if not numeric:
        raise DatasetError(
            f"{path}, column '{name}': its values are {kind}, not numbers.",
            hint=f"{who} must be numeric (integers, floats or booleans).",
        )
    _no_missing(path, column, name)
    with np.errstate(over="ignore"):  # beyond float32 becomes inf, which the caller refuses
        return np.asarray(column.cast(pa.float64()).to_numpy(), dtype=np.float32)


def _labels(path: Path, column: Any, name: str) -> np.ndarray:
    """A class column's values: text, integers or booleans (a dictionary-encoded column
    as its values)."""
    import pyarrow as pa

    kind = column.type
    if pa.types.is_dictionary(kind):
        column, kind = column.cast(kind.value_type), kind.value_type
    plain = (pa.types.is_string(kind) or pa.types.is_large_string(kind)
             or pa.types.is_integer(kind) or pa.types.is_boolean(kind))  # fmt: skip
    if not plain:
        raise DatasetError(
            f"{path}, column '{name}': class labels of type {kind} cannot be read.",
            hint="Class labels are text, integers or booleans; a regression target is "
            "floating-point.",
        )
    _no_missing(path, column, name)
    return np.asarray(column.to_numpy(zero_copy_only=False))


def _no_missing(path: Path, column: Any, name: str) -> None:
    if column.null_count:
        raise DatasetError(
            f"{path}, column '{name}': {column.null_count} value(s) missing.",
            hint="Fill or drop the rows with missing values first.",
        )
