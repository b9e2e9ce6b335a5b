"""NumPy files: what a lab exports from its own pipeline (spectra, signals, pre-cut
images), read without ever unpickling anything.

- `.npz` (np.savez): an array of examples, `x` (rows, ...), and one of targets, `y`
  (rows,); other names can be given. Other arrays in the file are ignored.
- `.npy` (np.save): one 2-D numeric table, one row per example, its last column the target.

The target's dtype decides the task: integers, booleans or text are class labels
(classes sorted by value); floating-point numbers are regression targets. Examples must be
numbers (booleans, integers or floats) and finite; they become float32."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from dain.data.datasets import Dataset
from dain.data.errors import DatasetError

_NUMBERS = "biuf"  # bool, signed and unsigned integers, floats
_LABELS = "biuU"  # what may name a class: integers, booleans, text


def load_arrays(path: Path, target: str = "y", features: str = "x") -> Dataset:
    """The examples and targets of a `.npz` file (arrays named `features` and `target`),
    or of a `.npy` table (its last column the target, named `target`). Refuses pickled
    or object arrays, non-numeric examples, NaN or infinities, and lengths that differ."""
    if path.suffix == ".npz":
        x, y = _npz(path, features, target)
    elif path.suffix == ".npy":
        table = _load(path)
        if not isinstance(table, np.ndarray):
            raise DatasetError(f"{path} is an .npz archive named .npy.", hint="Rename it .npz.")
        if table.ndim != 2 or table.shape[1] < 2:
            raise DatasetError(
                f"{path} holds an array of shape {list(table.shape)}; a .npy asset is a 2-D "
                "table with the features first and the target in its last column.",
                hint="For examples of other shapes, save x and y to an .npz file: "
                "np.savez(path, x=x, y=y).",
            )
        x, y = table[:, :-1], table[:, -1]
    else:
        raise DatasetError(f"{path} is not a .npy or .npz file.")
    return _dataset(path, x, y, target)


def _npz(path: Path, features: str, target: str) -> tuple[np.ndarray, np.ndarray]:
    archive = _load(path)
    if isinstance(archive, np.ndarray):
        raise DatasetError(f"{path} is a single .npy array named .npz.", hint="Rename it .npy.")
    with archive:
        names = archive.files
        missing = [n for n in (features, target) if n not in names]
        if missing:
            raise DatasetError(
                f"{path} has no array named {', '.join(map(repr, missing))}.",
                hint=f"It holds: {', '.join(names) or 'nothing'}. Save the examples as "
                f"'{features}' and the targets as '{target}': "
                f"np.savez(path, {features}=x, {target}=y).",
            )
        try:
            return archive[features], archive[target]
        except ValueError as exc:  # object arrays need pickle, which stays off
            raise _pickled(path) from exc
        except (OSError, zipfile.BadZipFile) as exc:
            raise DatasetError(f"{path} is damaged ({exc}).") from None


def _load(path: Path) -> np.ndarray | np.lib.npyio.NpzFile:
    try:
        with path.open("rb") as handle:
            magic = handle.read(6)
    except FileNotFoundError:
        raise DatasetError(f"No file at {path}.", hint="Check the path and try again.") from None
    if magic.startswith(b"\x80"):  # a pickle (protocol 2 and later), as np.save of objects
        raise _pickled(path)
    if magic != b"\x93NUMPY" and not magic.startswith(b"PK\x03\x04"):
        raise DatasetError(
            f"{path} is not a NumPy file (.npy or .npz).",
            hint="Write it with np.save or np.savez.",
        )
    try:
        return np.load(path, allow_pickle=False)  # never unpickle: pickles run code
    except ValueError as exc:
        if "pickle" in str(exc):
            raise _pickled(path) from exc
        raise DatasetError(f"{path} is not a NumPy file ({exc}).") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"{path} is not a readable NumPy file ({exc}).") from None


def _pickled(path: Path) -> DatasetError:
    return DatasetError(
        f"{path} holds pickled Python objects, which dain never loads (unpickling can run "
        "any code).",
        hint="Save plain numeric arrays: np.save or np.savez of int or float arrays, or "
        "text labels as a str array.",
    )


def _dataset(path: Path, x: np.ndarray, y: np.ndarray, target: str) -> Dataset:
    if x.dtype.kind not in _NUMBERS:
        raise DatasetError(
            f"{path}: the examples are {_dtype(x)}, not numbers.",
            hint="Save them as int or float arrays.",
        )
    if x.ndim < 2:
        raise DatasetError(
            f"{path}: the examples have shape {list(x.shape)}; they need a row axis and at "
            "least one value per row.",
            hint="Reshape one-value examples to (rows, 1).",
        )
    if y.ndim != 1 or len(x) != len(y):
        raise DatasetError(
            f"{path}: {len(x)} examples but targets of shape {list(y.shape)}; one target per "
            "example is needed.",
        )
    if not len(y):
        raise DatasetError(f"{path} holds no examples.")
    with np.errstate(over="ignore"):  # a value beyond float32 becomes inf, refused below
        values = x.astype(np.float32)
    if not np.isfinite(values).all():
        raise DatasetError(
            f"{path}: the examples hold NaN or infinite values (or numbers too large for "
            "float32); clean them first."
        )
    if y.dtype.kind == "f":
        with np.errstate(over="ignore"):
            numbers = y.astype(np.float32)
        if not np.isfinite(numbers).all():
            raise DatasetError(f"{path}: the targets hold NaN or infinite values.")
        return Dataset(path.stem, values, numbers, (), target, (), "array")
    if y.dtype.kind not in _LABELS:
        raise DatasetError(
            f"{path}: the targets are {_dtype(y)}.",
            hint="Save class labels as int or str arrays, regression targets as floats.",
        )
    classes, labels = np.unique(y, return_inverse=True)
    return Dataset(path.stem, values, labels.astype(np.int64).reshape(-1), (), target,
                   tuple(str(c) for c in classes), "array")  # fmt: skip


def _dtype(array: np.ndarray) -> str:
    kinds = {"c": "complex numbers", "V": "structured records", "S": "bytes",
             "U": "text", "M": "dates", "m": "time spans", "O": "Python objects"}  # fmt: skip
    return kinds.get(array.dtype.kind, f"of type {array.dtype}")
