"""A job file (TOML) becomes the spec every node reads and the terms the chain keeps; every
mistake in it is reported with its key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from dain.data import load_bundled
from dain.devnet.cluster import write_csv
from dain.errors import ConfigError
from dain.ledger import TOKEN_UNIT
from dain.node import JobSpec
from dain.node.job_file import load_job_file

GOOD = """
title = "Malignancy"
purpose = "diagnosis"
rounds = 4
round_duration = 120
pool = "12.5 DAIN"
max_assets = 10
min_participants = 2

[model]
kind = "mlp"
hidden = [16]

[training]
learning_rate = 0.05
batch_size = 16

[privacy]
level = "record"
epsilon = 4.0

[evaluation]
csv = "holdout.csv"
target = "diagnosis"
"""


def _write(tmp_path: Path, text: str) -> Path:
    write_csv(load_bundled("breast_cancer").subset(range(100)), tmp_path / "holdout.csv")
    path = tmp_path / "job.toml"
    path.write_text(text)
    return path


def test_a_job_file_gives_spec_terms_and_a_description_voters_can_read(tmp_path: Path) -> None:
    plan = load_job_file(_write(tmp_path, GOOD))

    assert plan.pool == 12 * TOKEN_UNIT + TOKEN_UNIT // 2
    assert (plan.rounds, plan.round_duration, plan.max_assets) == (4, 120, 10)
    assert plan.spec.model.kind == "mlp" and plan.spec.model.num_features == 30
    assert plan.spec.model.num_classes == 2 and len(plan.spec.model.feature_mean) == 30
    assert plan.spec.input is not None and plan.spec.input.target == "diagnosis"
    assert plan.spec.min_participants == 2
    assert plan.max_epsilon == 4.0 and plan.spec.privacy.epsilon(4) <= 4.0
    # the spec survives its trip through bytes, as every node reads it
    assert JobSpec.from_bytes(plan.spec.to_bytes()) == plan.spec
    terms = plan.terms("spec-cid", "model-cid")
    assert terms.max_epsilon == 4.0 and terms.reward_pool == plan.pool
    assert "12.5 DAIN" in plan.description and "epsilon 4.0" in plan.description
    evaluation = plan.evaluation_data()
    assert evaluation is not None and len(evaluation) == 100


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (("rounds = 4", "rounds = 0"), "rounds must be 1 to 1000"),
        (("rounds = 4", 'rounds = "four"'), "rounds must be a whole number"),
        (('pool = "12.5 DAIN"', 'pool = "lots"'), "not an amount of DAIN"),
        (("round_duration = 120", "round_duration = 5"), "in seconds and at least 30"),
        (('kind = "mlp"', 'kind = "forest"'), "Unknown model kind"),
        (('level = "record"', 'level = "high"'), "not a privacy level"),
        (('csv = "holdout.csv"', 'csv = "missing.csv"'), "No file or folder at"),
        (('purpose = "diagnosis"', ""), "purpose is missing"),
        (("max_assets = 10", "max_assets = 10\ncolour = 3"), "unknown setting"),
        (("[training]", "[training"), "not valid TOML"),
    ],
)
def test_each_mistake_names_its_key(
    tmp_path: Path, change: tuple[str, str], complaint: str
) -> None:
    path = _write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ConfigError, match=complaint) as raised:
        load_job_file(path)
    assert str(path) in str(raised.value)


def test_a_job_file_without_input_or_evaluation_says_what_to_add(tmp_path: Path) -> None:
    text = GOOD.split("[evaluation]")[0]
    with pytest.raises(ConfigError, match=r"no \[input\] table") as raised:
        load_job_file(_write(tmp_path, text))
    assert raised.value.hint and "[input]" in raised.value.hint
