"""[sampling] in a job file (issue 16, item 2): a fraction becomes the contract's rate in
basis points, a count is kept for the contract to turn into a rate at start, the voters'
description says so, and nonsense is refused with the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from dain.errors import ConfigError
from dain.node.job_file import load_job_file
from tests.node.test_job_file import GOOD, _write


def _with(tmp_path: Path, sampling: str, before: str = "") -> Path:
    text = GOOD.replace("[model]", f"{before}\n[sampling]\n{sampling}\n\n[model]", 1)
    return _write(tmp_path, text)


def test_a_fraction_becomes_basis_points_in_the_terms(tmp_path: Path) -> None:
    plan = load_job_file(_with(tmp_path, "fraction = 0.3"))

    terms = plan.terms("bafkreispec", "bafkreimodel")
    assert (terms.sample_bps, terms.sample_count) == (3_000, 0)
    assert "each asset in a round with chance 30.00%" in plan.description


def test_a_count_goes_to_the_chain_as_a_count(tmp_path: Path) -> None:
    plan = load_job_file(_with(tmp_path, "count = 4"))

    terms = plan.terms("bafkreispec", "bafkreimodel")
    assert (terms.sample_bps, terms.sample_count) == (0, 4)
    assert "about 4 assets a round" in plan.description


def test_a_fraction_of_one_samples_everyone(tmp_path: Path) -> None:
    plan = load_job_file(_with(tmp_path, "fraction = 1"))

    assert (plan.sample_bps, plan.sample_count) == (0, 0)
    assert "Sampling" not in plan.description


def test_no_sampling_table_samples_nothing(tmp_path: Path) -> None:
    plan = load_job_file(_write(tmp_path, GOOD))

    assert (plan.sample_bps, plan.sample_count) == (0, 0)


@pytest.mark.parametrize(
    ("sampling", "before", "complaint"),
    [
        ("fraction = 0", "", "sampling.fraction must be above 0 and at most 1"),
        ("fraction = 1.5", "", "sampling.fraction must be above 0 and at most 1"),
        ("fraction = -0.2", "", "sampling.fraction must be above 0 and at most 1"),
        ('fraction = "half"', "", "sampling.fraction must be a"),
        ("count = 0", "", "sampling.count must be at least 1"),
        ("count = 11", "", r"sampling.count \(11\) is more than max_assets \(10\)"),
        ("count = 1", "", r"below min_participants \(2\)"),
        ("fraction = 0.5\ncount = 3", "", "both fraction and count"),
        ("share = 0.5", "", "sampling has no setting share"),
        ("fraction = 0.5", "secure_aggregation = true",
         "sampling with secure aggregation is not supported yet"),
    ],
)
def test_nonsense_sampling_is_refused_with_its_key(
    tmp_path: Path, sampling: str, before: str, complaint: str
) -> None:
    path = _with(tmp_path, sampling, before)
    if before:  # top-level keys go before the first table
        text = path.read_text().replace(f"{before}\n", "")
        path.write_text(f"{before}\n{text}")

    with pytest.raises(ConfigError, match=complaint) as raised:
        load_job_file(path)

    assert str(path) in str(raised.value)
