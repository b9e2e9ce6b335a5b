from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dain.data import (
    AssetManifest,
    ConsentPolicy,
    DatasetError,
    PartitionError,
    PolicyError,
    bytes32_to_purpose,
    load_bundled,
    load_csv,
    partition_stratified,
    purpose_to_bytes32,
    stratified_split,
    unequal_sizes,
)


def test_bundled_breast_cancer() -> None:
    data = load_bundled("breast_cancer")
    assert data.x.shape == (569, 30) and data.x.dtype == np.float32
    assert data.classes == ("malignant", "benign")
    with pytest.raises(DatasetError, match="Choose one of"):
        load_bundled("imagenet")


def test_csv_with_named_target(tmp_path: Path) -> None:
    path = tmp_path / "patients.csv"
    path.write_text("age,bp,outcome\n50,120,sick\n30,110,well\n40,130,sick\n")

    data = load_csv(path, "outcome")

    assert data.feature_names == ("age", "bp")
    assert data.classes == ("sick", "well")
    assert data.y.tolist() == [0, 1, 0]
    np.testing.assert_array_equal(data.x[0], [50, 120])


@pytest.mark.parametrize(
    ("text", "target", "message"),
    [
        ("a,b\n1,2\n", "c", "no column named 'c'"),
        ("a,b\n1,x\n", "a", "'x' is not a number"),
        ("a,b\n1,2,3\n", "a", "3 values for 2 columns"),
        ("a,b\n", "a", "no data rows"),
        ("a,b\n1,nan\n", "a", "NaN"),
    ],
)
def test_csv_errors_name_the_problem(tmp_path: Path, text: str, target: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DatasetError, match=message):
        load_csv(path, target)


def test_missing_csv_is_explained(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="No file"):
        load_csv(tmp_path / "nope.csv", "y")


@settings(max_examples=40, deadline=None)
@given(owners=st.integers(1, 6), seed=st.integers(0, 1000), n=st.integers(30, 300))
def test_partition_covers_every_row_once_and_keeps_classes(owners: int, seed: int, n: int) -> None:
    y = np.random.default_rng(seed).integers(0, 3, n)
    parts = partition_stratified(y, unequal_sizes(owners, seed), seed)

    joined = np.concatenate(parts)
    assert sorted(joined.tolist()) == list(range(n))
    for label in np.unique(y):
        if (y == label).sum() >= owners:
            assert all((y[p] == label).any() for p in parts)


def test_partition_sizes_follow_shares_and_bad_shares_are_refused() -> None:
    y = np.repeat([0, 1], 500)
    parts = partition_stratified(y, np.array([0.5, 0.3, 0.2]), 0)
    assert [len(p) for p in parts] == [500, 300, 200]
    with pytest.raises(PartitionError):
        partition_stratified(y, np.array([0.5, 0.6]), 0)


def test_stratified_split_keeps_proportions() -> None:
    y = np.repeat([0, 1], [100, 300])
    train, test = stratified_split(y, 0.25, 0)
    assert len(test) == 100 and (y[test] == 0).sum() == 25
    assert set(train).isdisjoint(test)


def test_manifest_identifies_data_without_rows() -> None:
    data = load_bundled("wine")
    manifest, salt = AssetManifest.describe(data, "wine cellar")
    same, _ = AssetManifest.describe(data, "wine cellar", salt)
    other, _ = AssetManifest.describe(data.subset(np.arange(10)), "wine cellar", salt)

    assert manifest.digest == same.digest != other.digest
    assert len(manifest.digest) == 32
    text = manifest.to_json()
    assert str(float(data.x[0, 0])).encode() not in text and data.x[0].tobytes() not in text


def test_policy_rules() -> None:
    policy = ConsentPolicy(("diagnosis",), expiry=1_000)
    assert policy.allows("diagnosis", now=999) and not policy.allows("diagnosis", now=1_000)
    assert not policy.allows("marketing", now=0)
    assert bytes32_to_purpose(purpose_to_bytes32("research:oncology")) == "research:oncology"
    with pytest.raises(PolicyError, match="purpose tag"):
        ConsentPolicy(("Not A Tag!",))
    with pytest.raises(PolicyError):
        ConsentPolicy(())
