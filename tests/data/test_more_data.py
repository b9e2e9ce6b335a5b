"""Regression data, CSV schemas and the synthetic generators."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dain.data import CsvSchema, DatasetError, card_fraud, load_bundled, load_csv, smart_city_load


def test_diabetes_is_a_regression_dataset() -> None:
    data = load_bundled("diabetes")
    assert data.is_regression and data.num_outputs == 1 and data.y.dtype == np.float32
    assert data.x.shape == (442, 10)


def test_a_schema_checks_columns_and_targets(tmp_path: Path) -> None:
    path = tmp_path / "load.csv"
    path.write_text("hour,temp,load\n1,10.5,30\n2,11,31.5\n")
    schema = CsvSchema(("temp", "hour"), "load", regression=True)
    data = load_csv(path, "load", schema)
    assert data.is_regression and list(data.y) == [30.0, 31.5]
    with pytest.raises(DatasetError, match="missing wind; unexpected temp"):
        load_csv(path, "load", CsvSchema(("hour", "wind"), "load", regression=True))
    path.write_text("hour,temp,load\n1,10.5,30\n2,11,high\n")
    with pytest.raises(DatasetError, match="line 3, column 'load': 'high' is not a number"):
        load_csv(path, "load", schema)
    labels = tmp_path / "labels.csv"
    labels.write_text("a,b,diagnosis\n1,2,benign\n3,4,unknown\n")
    with pytest.raises(DatasetError, match="outside the schema: unknown"):
        load_csv(labels, "diagnosis", CsvSchema(("a", "b"), "diagnosis",
                                                classes=("benign", "malignant")))  # fmt: skip


def test_smart_city_load_is_per_district_and_predictable() -> None:
    data, districts = smart_city_load(districts=4, days=14, seed=1)
    assert data.is_regression and len(np.unique(districts)) == 4
    assert len(data) == len(districts) == 4 * (14 * 24 - 25)
    # the current load explains most of the next hour's
    current = data.x[:, data.feature_names.index("load_mw")]
    assert np.corrcoef(current, data.y)[0, 1] > 0.9
    again, _ = smart_city_load(districts=4, days=14, seed=1)
    assert np.array_equal(again.x, data.x)


def test_card_fraud_is_imbalanced_as_asked() -> None:
    data = card_fraud(transactions=50_000, fraud_rate=0.02, seed=3)
    assert data.classes == ("legitimate", "fraud")
    assert 0.015 < data.y.mean() < 0.025
    with pytest.raises(DatasetError, match="fraud rate below 50%"):
        card_fraud(fraud_rate=0.7)
