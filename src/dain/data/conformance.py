"""An owner's data as a job reads it: the job's input schema decides the column order, the
class numbering, the window cut or the image size, whatever the owner's own file has.
A dataset that cannot be made to fit is refused with what is wrong and how to fix it."""

from __future__ import annotations

import numpy as np

from dain.data.datasets import Dataset
from dain.data.errors import DatasetError
from dain.data.schema import InputSchema
from dain.data.windows import cut_windows, numeric_targets

_WHAT = {"table": "a table (CSV or Parquet)", "image": "an image folder",
         "array": "NumPy arrays", "series": "a time-ordered table cut into windows"}  # fmt: skip


def conform(dataset: Dataset, schema: InputSchema) -> Dataset:
    """`dataset` as a job with this input schema reads it.

    - table: feature columns in the schema's order;
    - series: those columns (the schema may name its target among them, for the target's
      past), cut into the schema's windows;
    - image: the schema's channels (refused if they differ) and size (resized);
    - array: exactly the schema's example shape.

    Class labels become indices into the schema's classes (a file lacking a class would
    otherwise number the others differently: training on shifted labels); a regression
    schema reads the targets as numbers. Refuses a missing column, a class the schema
    does not know, or data of another kind."""
    wanted = "table" if schema.kind == "series" else schema.kind
    if dataset.kind != wanted:
        raise DatasetError(
            f"The job reads {_WHAT[schema.kind]}, but '{dataset.name}' is {_WHAT[dataset.kind]}.",
            hint="Enroll an asset of the kind the job's input schema names.",
        )
    if schema.kind == "series":
        return _windows(dataset, schema)
    y, classes = _labels(dataset, schema)
    if schema.kind == "table":
        x = dataset.x[:, _columns(dataset, schema)]
        return Dataset(dataset.name, x, y, schema.features, schema.target, classes)
    if schema.kind == "image":
        x = _resized(dataset, schema.shape)
    else:
        if dataset.example_shape != schema.shape:
            raise DatasetError(
                f"'{dataset.name}' holds examples of shape {list(dataset.example_shape)}; the "
                f"job reads {list(schema.shape)}.",
                hint="Save the arrays in the job's shape (x of shape [rows, *shape]).",
            )
        x = dataset.x
    return Dataset(dataset.name, x, y, dataset.feature_names, schema.target, classes,
                   dataset.kind)  # fmt: skip


def _columns(dataset: Dataset, schema: InputSchema) -> list[int]:
    missing = [f for f in schema.features if f not in dataset.feature_names]
    if missing:
        raise DatasetError(
            f"The data lacks the job's input column(s) {', '.join(missing)}.",
            hint=f"The job reads: {', '.join(schema.features)}.",
        )
    return [dataset.feature_names.index(f) for f in schema.features]


def _labels(dataset: Dataset, schema: InputSchema) -> tuple[np.ndarray, tuple[str, ...]]:
    """The targets as the schema numbers them, and the classes that go with them."""
    if schema.regression:
        return numeric_targets(dataset), ()
    if not schema.classes:
        return dataset.y, dataset.classes
    if dataset.is_regression:
        raise DatasetError(
            f"'{dataset.name}' has numeric targets; the job sorts examples into classes.",
            hint=f"The job's classes: {', '.join(schema.classes)}.",
        )
    unknown = [c for c in dataset.classes if c not in schema.classes]
    if unknown:
        raise DatasetError(
            f"The data's '{schema.target}' holds {', '.join(map(repr, unknown))}, which "
            "the job's classes do not include.",
            hint=f"The job's classes: {', '.join(schema.classes)}.",
        )
    mapping = np.array([schema.classes.index(c) for c in dataset.classes], dtype=np.int64)
    y = mapping[dataset.y] if len(dataset.y) else dataset.y
    return y, schema.classes


def _windows(dataset: Dataset, schema: InputSchema) -> Dataset:
    """The schema's columns of a time-ordered table, cut into its windows. A feature named
    like the table's target is that target's past."""
    names = dataset.feature_names
    missing = [f for f in schema.features if f not in names and f != dataset.target]
    if schema.target not in names and schema.target != dataset.target:
        missing.append(schema.target)
    if missing:
        raise DatasetError(
            f"The data lacks the job's input column(s) {', '.join(missing)}.",
            hint=f"The job reads: {', '.join(dict.fromkeys((*schema.features, schema.target)))}.",
        )
    column = {name: dataset.x[:, i] for i, name in enumerate(names)}
    if dataset.target in (*schema.features, schema.target):  # its values read as numbers
        column[dataset.target] = numeric_targets(dataset)
    columns = [column[f] for f in schema.features]
    x = np.stack(columns, axis=1) if columns else np.zeros((len(dataset), 0), np.float32)
    y = column[schema.target]
    table = Dataset(dataset.name, x.astype(np.float32), np.asarray(y, np.float32),
                    schema.features, schema.target, ())  # fmt: skip
    return cut_windows(table, schema.lookback, schema.horizon, schema.target)


def _resized(dataset: Dataset, shape: tuple[int, ...]) -> np.ndarray:
    """Images at the schema's size, all at once (bilinear with antialiasing, as Pillow
    resamples); the channel count is the owner's to fix, not ours to invent."""
    channels, height, width = shape
    have = dataset.example_shape
    if have[0] != channels:
        raise DatasetError(
            f"'{dataset.name}' has {have[0]} channel(s) per image; the job reads {channels}.",
            hint=f"Register the folder with --channels {channels}.",
        )
    if have[1:] == (height, width):
        return dataset.x
    if not len(dataset):
        return np.zeros((0, *shape), np.float32)
    import torch
    from torch.nn import functional

    with torch.no_grad():
        images = functional.interpolate(torch.from_numpy(np.ascontiguousarray(dataset.x)),
                                        size=(height, width), mode="bilinear",
                                        align_corners=False, antialias=True)  # fmt: skip
    return images.clamp_(0.0, 1.0).numpy().astype(np.float32, copy=False)
