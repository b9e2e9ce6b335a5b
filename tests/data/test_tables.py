"""Parquet tables (issue 14, point 2): the same rows as load_csv makes of the same table,
the file's column types respected, and every unreadable column refused by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dain.data import CsvSchema, DatasetError, load_csv, load_parquet


def _write(path: Path, **columns: object) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


def test_a_parquet_table_reads_as_its_csv_twin(tmp_path: Path) -> None:
    parquet = _write(tmp_path / "clinic.parquet", age=[50, 30, 41], marker=[1.5, 0.25, 0.875],
                     outcome=["sick", "well", "sick"])  # fmt: skip
    csv = tmp_path / "clinic.csv"
    csv.write_text("age,marker,outcome\n50,1.5,sick\n30,0.25,well\n41,0.875,sick\n")

    from_parquet, from_csv = load_parquet(parquet, "outcome"), load_csv(csv, "outcome")

    assert np.array_equal(from_parquet.x, from_csv.x)
    assert np.array_equal(from_parquet.y, from_csv.y)
    assert from_parquet.feature_names == from_csv.feature_names == ("age", "marker")
    assert from_parquet.classes == from_csv.classes == ("sick", "well")


def test_a_float_target_is_regression_and_a_schema_decides(tmp_path: Path) -> None:
    path = _write(tmp_path / "load.parquet", hour=[1, 2, 3], load=[0.5, 1.5, 2.5])
    counts = _write(tmp_path / "n.parquet", a=[1.0, 2.0, 3.0], n=[3, 1, 3])

    assert load_parquet(path, "load").is_regression
    assert load_parquet(path, "load").y.tolist() == [0.5, 1.5, 2.5]
    numeric = load_parquet(counts, "n", CsvSchema(("a",), "n", regression=True))
    assert numeric.is_regression and numeric.y.tolist() == [3.0, 1.0, 3.0]
    labelled = load_parquet(counts, "n")
    assert labelled.classes == ("1", "3") and labelled.y.tolist() == [1, 0, 1]


def test_booleans_decimals_and_dictionary_labels_are_read(tmp_path: Path) -> None:
    import decimal

    path = tmp_path / "mixed.parquet"
    table = pa.table({
        "flag": pa.array([True, False]),
        "price": pa.array([decimal.Decimal("1.25"), decimal.Decimal("2.50")]),
        "kind": pa.array(["b", "a"]).dictionary_encode(),
    })  # fmt: skip
    pq.write_table(table, path)

    data = load_parquet(path, "kind")

    assert data.x.tolist() == [[1.0, 1.25], [0.0, 2.5]] and data.classes == ("a", "b")


@pytest.mark.parametrize(
    ("columns", "schema", "message"),
    [
        ({"name": ["x", "y"], "t": ["a", "b"]}, None, "column 'name': its values are string"),
        ({"v": [[1, 2], [3]], "t": ["a", "b"]}, None, "column 'v': its values are list"),
        ({"v": [{"a": 1}, {"a": 2}], "t": ["a", "b"]}, None, "column 'v': its values are struct"),
        ({"v": [1.0, None], "t": ["a", "b"]}, None, "column 'v': 1 value\\(s\\) missing"),
        ({"v": [1.0, float("nan")], "t": ["a", "b"]}, None, "NaN or infinite"),
        ({"v": [1.0, 2.0], "u": ["a", "b"]}, None, "no column named 't'"),
        ({"v": [1.0, 2.0], "t": ["a", None]}, None, "column 't': 1 value"),
        (
            {"v": [1.0, 2.0], "t": ["a", "b"]},
            CsvSchema(("v",), "t", regression=True),
            "column 't': its values are string, not numbers",
        ),
        (
            {"v": [1.0, 2.0], "t": ["a", "z"]},
            CsvSchema(("v",), "t", classes=("a", "b")),
            "outside the schema: z",
        ),
        ({"v": [1.0, 2.0], "w": [1, 2], "t": ["a", "b"]}, CsvSchema(("v",), "t"), "unexpected w"),
        (
            {"v": [1.0, 2.0], "t": [0.5, 1.5]},
            CsvSchema(("v",), "t", classes=("0.5",)),
            "class labels of type double",
        ),
    ],
)
def test_an_unreadable_column_is_refused_by_name(
    tmp_path: Path, columns: dict[str, list[object]], schema: CsvSchema | None, message: str
) -> None:
    path = _write(tmp_path / "bad.parquet", **columns)

    with pytest.raises(DatasetError, match=message):
        load_parquet(path, "t", schema)


def test_a_file_that_is_not_parquet_or_has_no_rows_is_refused(tmp_path: Path) -> None:
    (tmp_path / "fake.parquet").write_text("a,b\n1,2\n")
    empty = _write(tmp_path / "empty.parquet", v=pa.array([], pa.float64()),
                   t=pa.array([], pa.string()))  # fmt: skip

    with pytest.raises(DatasetError, match="not a readable Parquet file"):
        load_parquet(tmp_path / "fake.parquet", "b")
    with pytest.raises(DatasetError, match="no data rows"):
        load_parquet(empty, "t")
    with pytest.raises(DatasetError, match="No file at"):
        load_parquet(tmp_path / "none.parquet", "t")
