"""NumPy files (issue 14, point 2): .npz examples of any shape with their targets, .npy
tables with the target last; nothing is ever unpickled, and every malformed file is refused
with what is wrong."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from dain.data import DatasetError, load_arrays


def test_npz_examples_keep_their_shape_and_labels_become_sorted_classes(tmp_path: Path) -> None:
    x = np.random.default_rng(0).random((5, 2, 3, 4))
    labels = np.array(["dog", "cat", "dog", "eel", "cat"])
    np.savez(tmp_path / "scans.npz", x=x, y=labels)

    data = load_arrays(tmp_path / "scans.npz")

    assert data.kind == "array" and data.x.dtype == np.float32
    assert data.x.shape == (5, 2, 3, 4) and data.example_shape == (2, 3, 4)
    assert np.array_equal(data.x, x.astype(np.float32))
    assert data.classes == ("cat", "dog", "eel") and data.y.tolist() == [1, 0, 1, 2, 0]


def test_integer_labels_sort_by_value_and_float_targets_are_regression(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", features=np.ones((3, 2)), label=np.array([10, 2, 2]))
    np.savez(tmp_path / "b.npz", x=np.ones((3, 2), np.int32), y=np.array([0.5, 1.5, -2.0]))

    labelled = load_arrays(tmp_path / "a.npz", target="label", features="features")
    numeric = load_arrays(tmp_path / "b.npz")

    assert labelled.classes == ("2", "10") and labelled.y.tolist() == [1, 0, 0]
    assert labelled.target == "label"
    assert numeric.is_regression and numeric.y.tolist() == [0.5, 1.5, -2.0]


def test_a_npy_table_has_its_target_in_the_last_column(tmp_path: Path) -> None:
    np.save(tmp_path / "t.npy", np.array([[1, 2, 0], [3, 4, 1], [5, 6, 1]]))

    data = load_arrays(tmp_path / "t.npy")

    assert data.x.tolist() == [[1, 2], [3, 4], [5, 6]] and data.y.tolist() == [0, 1, 1]
    assert data.classes == ("0", "1")


def _pickled_npy(path: Path) -> None:
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)


@pytest.mark.parametrize(
    ("name", "write", "message"),
    [
        ("o.npy", _pickled_npy, "pickled Python objects"),
        (
            "o.npz",
            lambda p: np.savez(p, x=np.array([[1], [2]], dtype=object), y=np.arange(2)),
            "pickled Python objects",
        ),
        ("p.npy", lambda p: p.write_bytes(pickle.dumps([[1, 2, 3]])), "pickled Python objects"),
        (
            "n.npz",
            lambda p: np.savez(p, x=np.array([[1.0], [np.nan]]), y=np.arange(2)),
            "NaN or infinite",
        ),
        (
            "i.npz",
            lambda p: np.savez(p, x=np.array([[1e300], [1.0]]), y=np.arange(2)),
            "too large for float32",
        ),
        (
            "t.npz",
            lambda p: np.savez(p, x=np.ones((2, 1)), y=np.array([0.5, np.inf])),
            "targets hold NaN",
        ),
        ("m.npz", lambda p: np.savez(p, x=np.ones((3, 2)), y=np.arange(2)), "3 examples but"),
        ("k.npz", lambda p: np.savez(p, a=np.ones((3, 2)), y=np.arange(3)), "no array named 'x'"),
        (
            "s.npz",
            lambda p: np.savez(p, x=np.array([["a"], ["b"]]), y=np.arange(2)),
            "examples are text",
        ),
        (
            "c.npz",
            lambda p: np.savez(p, x=np.ones((2, 1), complex), y=np.arange(2)),
            "complex numbers",
        ),
        (
            "r.npz",
            lambda p: np.savez(p, x=np.zeros(2, [("a", "i4")]), y=np.arange(2)),
            "structured records",
        ),
        (
            "b.npz",
            lambda p: np.savez(p, x=np.ones((2, 1)), y=np.array([b"a", b"b"])),
            "targets are bytes",
        ),
        ("1.npz", lambda p: np.savez(p, x=np.ones(3), y=np.arange(3)), "need a row axis"),
        ("e.npz", lambda p: np.savez(p, x=np.ones((0, 2)), y=np.arange(0)), "no examples"),
        ("v.npy", lambda p: np.save(p, np.ones(4)), "a 2-D\\s+table"),
        ("z.npz", lambda p: p.write_bytes(b"not a zip"), "not a NumPy file"),
        (
            "w.npy",
            lambda p: (
                np.savez(p.with_suffix(".npz"), x=np.ones((2, 1)))
                or p.with_suffix(".npz").rename(p)
            ),
            "archive named .npy",
        ),
        ("x.txt", lambda p: p.write_text("1,2"), "not a .npy or .npz"),
    ],
)
def test_a_malformed_file_is_refused_with_the_problem_named(
    tmp_path: Path, name: str, write: object, message: str
) -> None:
    path = tmp_path / name
    write(path)  # type: ignore[operator]

    with pytest.raises(DatasetError, match=message):
        load_arrays(path)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="No file at"):
        load_arrays(tmp_path / "none.npz")
