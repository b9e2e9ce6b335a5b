"""Datasets (tables, images, arrays, time-series windows), and CSV files with a named target
column (the bundled datasets are in `dain.data.bundled`, other formats in
`dain.data.loaders`)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dain.data.errors import DatasetError
from dain.data.schema import CsvSchema, Kind


@dataclass(frozen=True)
class Dataset:
    """Examples `x` (float32, rows first) and integer class labels `y`; for a regression
    task (no `classes`), float targets `y`.

    A table's `x` is rows x features, named by `feature_names`. Other kinds hold one
    example per row of any shape (`example_shape`): an image is (channels, height,
    width) in [0, 1] and has no feature names; series windows are (lookback, features)
    with the features named; an array's examples are whatever shape its file has."""

    name: str
    x: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    target: str
    classes: tuple[str, ...]
    kind: Kind = "table"

    def __post_init__(self) -> None:
        if self.x.ndim < 2 or self.y.ndim != 1 or len(self.x) != len(self.y):
            raise DatasetError(
                f"Dataset '{self.name}' is inconsistent: {self.x.shape} features "
                f"for {self.y.shape} labels."
            )
        if self.kind == "table" and self.x.ndim != 2:
            raise DatasetError(
                f"Dataset '{self.name}' is a table, but its rows have shape {self.x.shape[1:]}."
            )

    @property
    def num_features(self) -> int:
        """A table's columns; for other kinds, the size of an example's first axis."""
        return self.x.shape[1]

    @property
    def example_shape(self) -> tuple[int, ...]:
        """One example's shape: (features,) for a table, (channels, height, width) for an
        image, (lookback, features) for a series window."""
        return tuple(int(d) for d in self.x.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def is_regression(self) -> bool:
        return not self.classes

    @property
    def num_outputs(self) -> int:
        """What a model predicts: one value for regression, one score per class otherwise."""
        return 1 if self.is_regression else self.num_classes

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, rows: np.ndarray, name: str | None = None) -> Dataset:
        return Dataset(
            name or self.name,
            self.x[rows],
            self.y[rows],
            self.feature_names,
            self.target,
            self.classes,
            self.kind,
        )


def load_csv(path: Path, target: str, schema: CsvSchema | None = None) -> Dataset:
    """A CSV with a header row; every column but `target` must be numeric. Target values
    may be any strings: they become classes in sorted order. With a `schema`, the columns
    must be exactly its own, a regression target must be numeric, and classes must be
    among the schema's."""
    if schema is not None and schema.target != target:
        raise DatasetError(f"The schema's target is '{schema.target}', not '{target}'.")
    try:
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError as exc:
        raise DatasetError(f"No file at {path}.", hint="Check the path and try again.") from exc
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path} is not a text CSV file (it is not UTF-8).") from exc
    if len(rows) < 2:
        raise DatasetError(f"{path} has no data rows (a header row and at least one row needed).")
    header = [h.strip() for h in rows[0]]
    if target not in header:
        raise DatasetError(
            f"{path} has no column named '{target}'.",
            hint=f"Its columns are: {', '.join(header)}.",
        )
    if schema is not None:
        schema.check(path, header)
    target_col = header.index(target)
    features = tuple(h for i, h in enumerate(header) if i != target_col)
    labels: list[str] = []
    values: list[list[float]] = []
    for line_no, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise DatasetError(
                f"{path}, line {line_no}: {len(row)} values for {len(header)} columns."
            )
        labels.append(row[target_col].strip())
        numbers = []
        for i, cell in enumerate(row):
            if i == target_col:
                continue
            try:
                numbers.append(float(cell))
            except ValueError:
                raise DatasetError(
                    f"{path}, line {line_no}, column '{header[i]}': '{cell}' is not a number.",
                    hint="Every column except the target must be numeric.",
                ) from None
        values.append(numbers)
    x = np.asarray(values, dtype=np.float32)
    if not np.isfinite(x).all():
        raise DatasetError(f"{path} contains NaN or infinite values; clean them first.")
    if schema is not None and schema.regression:
        return Dataset(path.stem, x, _numeric_targets(path, labels, target), features, target, ())
    if schema is not None and schema.classes:
        unknown = sorted(set(labels) - set(schema.classes))
        if unknown:
            raise DatasetError(
                f"{path}: column '{target}' has values outside the schema: {', '.join(unknown)}.",
                hint=f"Allowed: {', '.join(schema.classes)}.",
            )
    classes, y = np.unique(np.asarray(labels), return_inverse=True)
    return Dataset(
        path.stem, x, y.astype(np.int64), features, target, tuple(str(c) for c in classes)
    )


def _numeric_targets(path: Path, labels: list[str], target: str) -> np.ndarray:
    try:
        values = np.asarray([float(v) for v in labels], dtype=np.float32)
    except ValueError:
        bad = next(v for v in labels if not is_number(v))
        line = labels.index(bad) + 2
        raise DatasetError(
            f"{path}, line {line}, column '{target}': '{bad}' is not a number.",
            hint="A regression target must be numeric.",
        ) from None
    if not np.isfinite(values).all():
        raise DatasetError(f"{path}: column '{target}' has NaN or infinite values.")
    return values


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
