"""Rows conform to a job's input schema: columns in its order, labels numbered by its classes,
whatever order the owner's file has and whichever classes it lacks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dain.data import CsvSchema, Dataset, DatasetError, conform

SCHEMA = CsvSchema(("a", "b", "c"), "kind", classes=("cat", "cow", "dog"))


@given(
    st.lists(st.sampled_from(SCHEMA.classes), min_size=1, max_size=30),
    st.permutations(["a", "b", "c"]),
)
def test_each_row_keeps_its_values_and_its_class_name(names: list[str], order: list[str]) -> None:
    present = tuple(sorted(set(names)))  # how load_csv numbers a file's own classes
    rng = np.random.default_rng(len(names))
    x = rng.normal(size=(len(names), 3)).astype(np.float32)
    data = Dataset("f", x, np.array([present.index(n) for n in names]), tuple(order), "kind",
                   present)  # fmt: skip

    fitted = conform(data, SCHEMA)

    assert [SCHEMA.classes[i] for i in fitted.y] == names
    for column, feature in enumerate(SCHEMA.features):
        assert np.array_equal(fitted.x[:, column], x[:, order.index(feature)])


def test_a_class_the_job_does_not_know_is_refused() -> None:
    data = Dataset("f", np.zeros((2, 3), np.float32), np.array([0, 1]), ("a", "b", "c"), "kind",
                   ("cat", "horse"))  # fmt: skip
    with pytest.raises(DatasetError, match="'horse'") as raised:
        conform(data, SCHEMA)
    assert raised.value.hint and "cat, cow, dog" in raised.value.hint


def test_a_missing_column_is_refused() -> None:
    data = Dataset("f", np.zeros((1, 2), np.float32), np.array([0]), ("a", "c"), "kind", ("cat",))
    with pytest.raises(DatasetError, match="lacks the job's input column"):
        conform(data, SCHEMA)
