"""One entry point for an owner's data, whatever form it has: the path decides the loader.

| path                      | loader               | target                     |
| ------------------------- | -------------------- | -------------------------- |
| a folder                  | `load_image_folder`  | its subfolders (no target) |
| `.npz`, `.npy`            | `load_arrays`        | optional (default `y`)     |
| `.parquet`, `.pq`         | `load_parquet`       | needed: the column name    |
| `.csv`                    | `load_csv`           | needed: the column name    |
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dain.data.datasets import Dataset, load_csv
from dain.data.errors import DatasetError

KINDS_OF_PATH = ("a folder of images (one subfolder per class)", ".npz or .npy arrays",
                 ".parquet tables", ".csv tables")  # fmt: skip
_TABLES = {".csv": "CSV", ".parquet": "Parquet", ".pq": "Parquet"}


def load_asset(
    path: Path,
    target: str | None = None,
    size: Sequence[int] | None = None,
    channels: int | None = None,
) -> Dataset:
    """The dataset at `path`, read by the loader its kind needs (the table above). `size`
    (height, width) and `channels` are for image folders only (see `load_image_folder`);
    `load_options` gives the ones that reload a registered asset exactly."""
    from dain.data.arrays import load_arrays
    from dain.data.images import TARGET, load_image_folder
    from dain.data.tables import load_parquet

    if not path.exists():
        raise DatasetError(f"No file or folder at {path}.", hint="Check the path and try again.")
    is_folder = path.is_dir()
    if not is_folder and (size is not None or channels is not None):
        raise DatasetError(f"An image size and channels apply to image folders, not {path}.")
    if is_folder:
        if target not in (None, TARGET):
            raise DatasetError(
                f"{path} is an image folder: its classes are its subfolders' names, not a "
                f"column '{target}'.",
                hint="Leave out the target.",
            )
        shape = None if size is None else (int(size[0]), int(size[1]))
        return load_image_folder(path, shape, channels)
    suffix = path.suffix.lower()
    if suffix in (".npz", ".npy"):
        return load_arrays(path, target or "y")
    if suffix not in _TABLES:
        raise DatasetError(
            f"{path}: dain does not read '{suffix or 'suffix-less'}' files.",
            hint=f"It reads {', '.join(KINDS_OF_PATH)}.",
        )
    if target is None:
        raise DatasetError(
            f"{path} is a {_TABLES[suffix]} table: name the column to predict.",
            hint="Give its target column (--target).",
        )
    return load_parquet(path, target) if _TABLES[suffix] == "Parquet" else load_csv(path, target)


def load_options(dataset: Dataset) -> dict[str, Any]:
    """What `load_asset` needs, besides the path and target, to read the same examples
    again: an image folder's size and channels (so that images added later, of another
    size, do not change what the rest are resized to); nothing for other kinds."""
    if dataset.kind != "image":
        return {}
    channels, height, width = dataset.example_shape
    return {"size": [height, width], "channels": channels}


def content_digest(path: Path) -> bytes:
    """sha2-256 of a file's bytes, or of a folder's files (their relative paths, sorted,
    and bytes; names starting with a dot skipped, as the image loader skips them): the
    same data under another name has the same digest."""
    if not path.is_dir():
        return hashlib.sha256(path.read_bytes()).digest()
    h = hashlib.sha256(b"dain folder\n")
    files = sorted(
        p.relative_to(path).as_posix()
        for p in path.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    for name in files:
        encoded = name.encode()
        h.update(len(encoded).to_bytes(8, "big") + encoded)
        h.update(hashlib.sha256((path / name).read_bytes()).digest())
    return h.digest()
