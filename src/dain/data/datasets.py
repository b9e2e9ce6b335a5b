"""Tabular datasets: sklearn's bundled ones and CSV files with a named target column."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dain.data.errors import DatasetError

BUNDLED = ("breast_cancer", "digits", "wine", "iris")


@dataclass(frozen=True)
class Dataset:
    """Features `x` (float32, rows x features) and integer class labels `y`."""

    name: str
    x: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    target: str
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.x.ndim != 2 or self.y.ndim != 1 or len(self.x) != len(self.y):
            raise DatasetError(
                f"Dataset '{self.name}' is inconsistent: {self.x.shape} features "
                f"for {self.y.shape} labels."
            )

    @property
    def num_features(self) -> int:
        return self.x.shape[1]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

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
        )


def load_bundled(name: str) -> Dataset:
    """One of the datasets that ship inside scikit-learn (no download)."""
    from sklearn import datasets as sk  # heavy import, only when asked

    loaders = {
        "breast_cancer": sk.load_breast_cancer,
        "digits": sk.load_digits,
        "wine": sk.load_wine,
        "iris": sk.load_iris,
    }
    if name not in loaders:
        raise DatasetError(
            f"Unknown dataset '{name}'.", hint=f"Choose one of: {', '.join(BUNDLED)}."
        )
    bunch = loaders[name]()
    classes = tuple(str(c) for c in getattr(bunch, "target_names", np.unique(bunch.target)))
    features = tuple(str(f) for f in bunch.feature_names)
    return Dataset(
        name,
        bunch.data.astype(np.float32),
        bunch.target.astype(np.int64),
        features,
        "target",
        classes,
    )


def load_csv(path: Path, target: str) -> Dataset:
    """A CSV with a header row; every column but `target` must be numeric. Target values
    may be any strings: they become classes in sorted order."""
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
    classes, y = np.unique(np.asarray(labels), return_inverse=True)
    return Dataset(
        path.stem, x, y.astype(np.int64), features, target, tuple(str(c) for c in classes)
    )
