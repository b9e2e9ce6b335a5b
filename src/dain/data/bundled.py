"""The datasets that ship inside scikit-learn, read straight from its data files.

Importing scikit-learn to reach them cost about 0.6 s (it pulls in scipy), more than a whole
`dain sim` run takes on a small federation; the files themselves are plain CSV, so numpy
reads them. The result is the same arrays, names and classes as scikit-learn's loaders
(`tests/data/test_bundled.py` checks this against them)."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

from dain.data.datasets import Dataset
from dain.data.errors import DatasetError

BUNDLED = ("breast_cancer", "digits", "wine", "iris", "diabetes")

# the feature names scikit-learn's loaders give; its CSV headers hold only the sizes and
# the class names
_MEASURES = ("radius", "texture", "perimeter", "area", "smoothness", "compactness",
             "concavity", "concave points", "symmetry", "fractal dimension")  # fmt: skip
_BREAST_CANCER = (*(f"mean {m}" for m in _MEASURES), *(f"{m} error" for m in _MEASURES),
                  *(f"worst {m}" for m in _MEASURES))  # fmt: skip
_WINE = ("alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols",
         "flavanoids", "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue",
         "od280/od315_of_diluted_wines", "proline")  # fmt: skip
_IRIS = ("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)")
_DIGITS = tuple(f"pixel_{row}_{col}" for row in range(8) for col in range(8))
_DIABETES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")


def data_dir() -> Path:
    """scikit-learn's `datasets/data` folder, found without importing scikit-learn."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError(
            "The bundled datasets come with scikit-learn, which is not installed.",
            hint="Install it: pip install 'scikit-learn~=1.9'.",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"


def load_bundled(name: str) -> Dataset:
    """One of the datasets that ship inside scikit-learn (no download)."""
    if name not in BUNDLED:
        raise DatasetError(
            f"Unknown dataset '{name}'.", hint=f"Choose one of: {', '.join(BUNDLED)}."
        )
    folder = data_dir()
    if name == "digits":
        table = _read_gzipped(folder / "digits.csv.gz", delimiter=",")
        x, y = table[:, :-1], table[:, -1].astype(np.int64)
        return _classes(name, x, y, _DIGITS, tuple(str(c) for c in range(10)))
    if name == "diabetes":  # regression: disease progression after a year
        x = _read_gzipped(folder / "diabetes_data_raw.csv.gz")
        y = _read_gzipped(folder / "diabetes_target.csv.gz")
        return Dataset(name, _standardized(x).astype(np.float32), y.astype(np.float32),
                       _DIABETES, "progression", ())  # fmt: skip
    file, features = {
        "breast_cancer": ("breast_cancer.csv", _BREAST_CANCER),
        "wine": ("wine_data.csv", _WINE),
        "iris": ("iris.csv", _IRIS),
    }[name]
    x, y, classes = _read_headed_csv(folder / file)
    return _classes(name, x, y, features, classes)


def _classes(
    name: str, x: np.ndarray, y: np.ndarray, features: tuple[str, ...], classes: tuple[str, ...]
) -> Dataset:
    return Dataset(name, x.astype(np.float32), y.astype(np.int64), features, "target", classes)


def _read_headed_csv(path: Path) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """scikit-learn's format: a header `rows,features,class names...`, then one row per
    sample with the class index last."""
    with path.open(encoding="utf-8") as handle:
        header = handle.readline().strip().split(",")
        table = np.loadtxt(handle, delimiter=",", ndmin=2)
    rows, features = int(header[0]), int(header[1])
    if table.shape != (rows, features + 1):
        raise DatasetError(f"{path} holds {table.shape} values, not {rows} x {features + 1}.")
    return table[:, :-1], table[:, -1].astype(np.int64), tuple(header[2:])


def _read_gzipped(path: Path, delimiter: str | None = None) -> np.ndarray:
    # opened here: numpy's own .gz handling resolves the working folder, which may be gone
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return np.loadtxt(handle, delimiter=delimiter)


def _standardized(x: np.ndarray) -> np.ndarray:
    """scikit-learn's scaled diabetes features: each column centred and divided by its
    standard deviation, then all by the square root of the number of rows (each column's
    sum of squares becomes 1); the same operations in the same order, so the same values."""
    mean, spread = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
    spread[spread < 10 * np.finfo(spread.dtype).eps] = 1.0  # a constant column stays put
    x = x - mean
    x /= spread
    x /= len(x) ** 0.5
    return x
