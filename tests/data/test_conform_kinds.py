"""conform beyond tables (issue 14, point 2): a series table cut into the schema's windows,
images resized to the schema's size, arrays of exactly its shape; data of another kind, or
another channel count, refused with the fix."""

from __future__ import annotations

import numpy as np
import pytest

from dain.data import Dataset, DatasetError, InputSchema, conform, cut_windows

DIGITS = tuple(str(d) for d in range(10))


def _images(n: int = 4, shape: tuple[int, int, int] = (1, 8, 8)) -> Dataset:
    x = np.random.default_rng(0).random((n, *shape)).astype(np.float32)
    return Dataset("scans", x, np.arange(n) % 2, (), "class", ("3", "7"), "image")


def test_images_are_resized_and_their_classes_numbered_by_the_job() -> None:
    schema = InputSchema((), "class", classes=DIGITS, kind="image", shape=(1, 16, 12))
    flat = Dataset("flat", np.full((2, 1, 8, 8), 0.25, np.float32), np.array([0, 1]), (),
                   "class", ("3", "7"), "image")  # fmt: skip

    fitted = conform(_images(), schema)

    assert fitted.x.shape == (4, 1, 16, 12) and fitted.kind == "image"
    assert fitted.y.tolist() == [3, 7, 3, 7] and fitted.classes == DIGITS
    assert fitted.x.min() >= 0 and fitted.x.max() <= 1
    assert np.allclose(conform(flat, schema).x, 0.25)  # resizing keeps a flat image flat


def test_images_of_the_schemas_size_pass_unchanged() -> None:
    images = _images()
    schema = InputSchema((), "class", classes=("3", "7"), kind="image", shape=(1, 8, 8))

    assert conform(images, schema).x is images.x


def test_another_channel_count_is_refused_with_the_fix() -> None:
    schema = InputSchema((), "class", kind="image", shape=(3, 8, 8))

    with pytest.raises(DatasetError, match=r"1 channel\(s\) per image; the job reads 3") as raised:
        conform(_images(), schema)
    assert raised.value.hint == "Register the folder with --channels 3."


def test_arrays_must_have_exactly_the_schemas_shape() -> None:
    arrays = Dataset("a", np.ones((3, 2, 5), np.float32), np.array([0.5, 1.0, 2.0], np.float32),
                     (), "y", (), "array")  # fmt: skip

    fitted = conform(arrays, InputSchema((), "y", regression=True, kind="array", shape=(2, 5)))

    assert fitted.x.shape == (3, 2, 5) and fitted.y.tolist() == [0.5, 1.0, 2.0]
    with pytest.raises(DatasetError, match=r"shape \[2, 5\]; the job reads \[5, 2\]"):
        conform(arrays, InputSchema((), "y", regression=True, kind="array", shape=(5, 2)))


def test_a_series_schema_reads_its_columns_then_cuts_windows() -> None:
    # a city's CSV read without a schema: target values as class names, features as columns
    rows = 12
    x = np.stack([np.arange(rows) * 10.0, np.arange(rows) * -1.0], axis=1).astype(np.float32)
    loads = [str(v) for v in range(100, 100 + rows)]
    table = Dataset("city", x, np.arange(rows), ("temp", "hour"), "load", tuple(sorted(loads)))
    schema = InputSchema(("hour", "load"), "load", regression=True, kind="series",
                         lookback=3, horizon=2)  # fmt: skip

    windows = conform(table, schema)

    load = np.array([float(sorted(loads)[i]) for i in range(rows)], np.float32)
    assert windows.x.shape == (rows - 3 - 2 + 1, 3, 2) and windows.kind == "series"
    assert windows.feature_names == ("hour", "load")
    assert np.array_equal(windows.x[0], np.stack([x[:3, 1], load[:3]], axis=1))
    assert windows.y.tolist() == load[4:].tolist()
    expected = cut_windows(Dataset("city", np.stack([x[:, 1], load], axis=1),
                                   load, ("hour", "load"), "load", ()), 3, 2, "load")  # fmt: skip
    assert np.array_equal(windows.x, expected.x)


def test_a_series_too_short_or_missing_a_column_is_refused() -> None:
    table = Dataset("city", np.zeros((4, 1), np.float32), np.zeros(4, np.float32), ("temp",),
                    "load", ())  # fmt: skip
    long = InputSchema(("temp",), "load", regression=True, kind="series", lookback=4, horizon=1)
    wind = InputSchema(("wind",), "load", regression=True, kind="series", lookback=1, horizon=1)

    with pytest.raises(DatasetError, match="too few for one window"):
        conform(table, long)
    with pytest.raises(DatasetError, match=r"lacks the job's input column\(s\) wind"):
        conform(table, wind)


def test_data_of_another_kind_is_refused() -> None:
    table = Dataset("t", np.zeros((2, 64), np.float32), np.array([0, 1]),
                    tuple(f"p{i}" for i in range(64)), "class", ("3", "7"))  # fmt: skip
    image_job = InputSchema((), "class", kind="image", shape=(1, 8, 8))

    with pytest.raises(DatasetError, match="The job reads an image folder, but 't' is a table"):
        conform(table, image_job)
    with pytest.raises(DatasetError, match=r"reads a table \(CSV or Parquet\), but 'scans' is an"):
        conform(_images(), InputSchema(("p0",), "class"))


def test_a_regression_schema_reads_numeric_class_names_as_numbers() -> None:
    # what a node holds for a regression CSV it loaded without a schema
    table = Dataset("t", np.zeros((3, 1), np.float32), np.array([2, 0, 1]), ("a",), "v",
                    ("1.5", "10", "2"))  # fmt: skip

    fitted = conform(table, InputSchema(("a",), "v", regression=True))

    assert fitted.is_regression and fitted.y.tolist() == [2.0, 1.5, 10.0]


def test_numeric_targets_cannot_be_sorted_into_classes() -> None:
    table = Dataset("t", np.zeros((2, 1), np.float32), np.array([0.5, 2.0], np.float32), ("a",),
                    "v", ())  # fmt: skip

    with pytest.raises(DatasetError, match="numeric targets; the job sorts"):
        conform(table, InputSchema(("a",), "v", classes=("x", "y")))
