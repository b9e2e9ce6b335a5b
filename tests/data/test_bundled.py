"""The bundled datasets and the stratified split, read and drawn without scikit-learn, are
exactly what scikit-learn's own loaders and `train_test_split` give."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn import datasets as sk
from sklearn.model_selection import train_test_split

from dain.data import BUNDLED, PartitionError, load_bundled, stratified_split

LOADERS = {
    "breast_cancer": sk.load_breast_cancer,
    "digits": sk.load_digits,
    "wine": sk.load_wine,
    "iris": sk.load_iris,
    "diabetes": sk.load_diabetes,
}


@pytest.mark.parametrize("name", BUNDLED)
def test_a_bundled_dataset_is_what_scikit_learn_loads(name: str) -> None:
    bunch = LOADERS[name]()

    data = load_bundled(name)

    assert data.x.dtype == np.float32 and data.x.shape == bunch.data.shape
    np.testing.assert_array_equal(data.x, bunch.data.astype(np.float32))
    assert data.feature_names == tuple(str(f) for f in bunch.feature_names)
    if name == "diabetes":
        assert data.y.dtype == np.float32 and data.classes == ()
        np.testing.assert_array_equal(data.y, bunch.target.astype(np.float32))
    else:
        assert data.y.dtype == np.int64
        np.testing.assert_array_equal(data.y, bunch.target)
        names = getattr(bunch, "target_names", np.unique(bunch.target))
        assert data.classes == tuple(str(c) for c in names)


def test_an_unknown_dataset_is_refused_with_the_choices() -> None:
    with pytest.raises(Exception, match="Choose one of: breast_cancer"):
        load_bundled("mnist")


def test_loading_a_dataset_imports_no_scikit_learn() -> None:
    code = (
        "import sys; from dain.data import load_bundled, stratified_split; "
        "d = load_bundled('digits'); stratified_split(d.y, 0.2, 0); "
        "print(sorted(m for m in ('sklearn', 'scipy') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_loading_works_when_the_working_folder_is_gone(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    code = (
        "import os; os.rmdir(os.getcwd()); from dain.data import load_bundled; "
        "print(len(load_bundled('digits')), len(load_bundled('diabetes')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=gone, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["1797", "442"]


def _sklearn_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    train, test = train_test_split(
        np.arange(len(y)), test_size=fraction, stratify=y, random_state=seed
    )
    return np.sort(train), np.sort(test)


@pytest.mark.parametrize("name", ["breast_cancer", "digits", "wine", "iris"])
@pytest.mark.parametrize("seed", [0, 7, 123])
def test_the_split_of_a_bundled_dataset_is_scikit_learns(name: str, seed: int) -> None:
    y = load_bundled(name).y

    train, test = stratified_split(y, 0.2, seed)

    expected_train, expected_test = _sklearn_split(y, 0.2, seed)
    np.testing.assert_array_equal(train, expected_train)
    np.testing.assert_array_equal(test, expected_test)


@pytest.mark.parametrize("case", range(40))
def test_the_split_of_uneven_labels_is_scikit_learns(case: int) -> None:
    # tied remainders among classes are where the random tie-breaks come in
    rng = np.random.default_rng(case)
    classes = int(rng.integers(2, 7))
    counts = rng.integers(2, 30, size=classes)
    y = rng.permutation(np.repeat(np.arange(classes), counts))
    fraction = float(rng.choice([0.1, 0.2, 0.25, 0.3, 0.5]))
    if min(len(y) - np.ceil(fraction * len(y)), np.ceil(fraction * len(y))) < classes:
        pytest.skip("too few rows for every class on both sides")

    train, test = stratified_split(y, fraction, case)

    expected_train, expected_test = _sklearn_split(y, fraction, case)
    np.testing.assert_array_equal(train, expected_train)
    np.testing.assert_array_equal(test, expected_test)


def test_a_split_with_a_lone_class_or_too_few_rows_is_refused() -> None:
    with pytest.raises(PartitionError, match="one row only"):
        stratified_split(np.array([0, 0, 1, 1, 2]), 0.4, 0)
    with pytest.raises(PartitionError, match="cannot hold all 3 classes"):
        stratified_split(np.array([0, 0, 1, 1, 2, 2, 0, 1]), 0.2, 0)
