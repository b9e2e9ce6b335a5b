"""Input schemas beyond tables (issue 14, point 2): a table schema writes exactly the JSON
job specs have always held (their content ids must not change); the other kinds add only
their own keys, and come back from JSON equal; a schema that cannot be met is refused."""

from __future__ import annotations

import json

import pytest

from dain.data import CsvSchema, DatasetError, InputSchema


def test_a_table_schema_writes_what_job_specs_always_held() -> None:
    schema = CsvSchema(("age", "bmi"), "outcome", classes=("sick", "well"))

    written = schema.to_dict()

    # today's spec format (dain.node.spec._schema_dict), byte for byte
    assert json.dumps(written) == (
        '{"features": ["age", "bmi"], "target": "outcome", "regression": false, '
        '"classes": ["sick", "well"]}'
    )
    assert InputSchema.from_dict(written) == schema and CsvSchema is InputSchema


@pytest.mark.parametrize(
    "schema",
    [
        InputSchema((), "class", classes=("0", "1"), kind="image", shape=(1, 8, 8)),
        InputSchema((), "y", regression=True, kind="array", shape=(3, 5)),
        InputSchema(
            ("load", "temp"), "load", regression=True, kind="series", lookback=24, horizon=1
        ),
    ],
)
def test_other_kinds_round_trip_through_json(schema: InputSchema) -> None:
    written = json.loads(json.dumps(schema.to_dict()))

    assert InputSchema.from_dict(written) == schema
    assert written["kind"] == schema.kind


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "video"}, "Unknown input kind 'video'"),
        ({"kind": "series", "regression": True}, "needs a lookback"),
        ({"kind": "series", "lookback": 3, "horizon": 1}, "must be a regression"),
        ({"lookback": 3}, "belong to a series input, not table"),
        ({"kind": "image"}, "needs the shape of one example"),
        ({"kind": "image", "shape": (2, 8, 8)}, "1 .grayscale. or 3 .RGB. channels"),
        ({"kind": "array", "shape": (0, 3)}, "needs the shape"),
        ({"shape": (3,)}, "shape belongs to an image or array input"),
    ],
)
def test_a_schema_that_cannot_be_met_is_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        InputSchema(("a",), "t", **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"features": ["a"], "target": "t", "regression": False}, "lacks 'classes'"),
        ({"features": ["a"], "target": "t", "regression": "no", "classes": []}, "true or false"),
        ({"features": [1], "target": "t", "regression": False, "classes": []}, "hold text"),
        (
            {
                "features": [],
                "target": "t",
                "regression": False,
                "classes": ["a"],
                "kind": "image",
                "shape": [1, "8", 8],
            },
            "whole numbers",
        ),
        (
            {"features": [], "target": "t", "regression": False, "classes": [], "colour": 1},
            "unknown key.s. colour",
        ),
    ],
)
def test_malformed_json_is_refused_naming_the_key(raw: dict[str, object], message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        InputSchema.from_dict(raw)
