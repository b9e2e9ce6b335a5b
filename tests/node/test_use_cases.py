"""The use-case templates: each writes its data and a job file that loads into a spec of
the right model and input; a job file's model and input mistakes name their key."""

from __future__ import annotations

from pathlib import Path

import pytest

from dain.data import USE_CASES, conform, load_asset
from dain.errors import ConfigError
from dain.node import template_text, write_use_case
from dain.node.job_file import load_job_file

EXPECTED = {
    "imaging": ((1, 8, 8), 10, "image"),
    "smart_city": ((24, 5), 1, "series"),
    "fraud": ((15,), 2, "table"),
}


@pytest.mark.parametrize("name", USE_CASES)
def test_a_use_case_writes_data_its_job_file_reads(name: str, tmp_path: Path) -> None:
    job, data = write_use_case(name, tmp_path, owners=2, seed=1)
    plan = load_job_file(job)
    shape, outputs, kind = EXPECTED[name]
    assert plan.spec.model.kind == "layers"
    assert plan.spec.model.example_shape == shape
    assert plan.spec.model.num_classes == outputs
    assert plan.schema.kind == kind
    held_out = plan.evaluation_data()
    assert held_out is not None and held_out.x.shape[1:] == shape
    for owner in data.owners:  # every owner's data fits the job as its node will read it
        target = None if kind == "image" else plan.schema.target
        rows = conform(load_asset(owner, target), plan.schema)
        assert rows.x.shape[1:] == shape and len(rows) > 100
    with pytest.raises(ConfigError, match="exists already"):
        write_use_case(name, tmp_path)


def test_the_fraud_template_weighs_classes_and_the_forecast_standardizes_its_target(
    tmp_path: Path,
) -> None:
    fraud = load_job_file(write_use_case("fraud", tmp_path / "f", owners=1)[0])
    assert fraud.spec.train.balance_classes
    city = load_job_file(write_use_case("smart_city", tmp_path / "c", owners=1)[0])
    assert 20 < city.spec.model.target_mean < 80 and city.spec.model.target_scale > 1


def _job(tmp_path: Path, model: str, extra: str = "") -> Path:
    text = template_text("imaging")
    head = text[: text.index("[model]")]
    tail = text[text.index("[training]"):]
    write_use_case("imaging", tmp_path / "data", owners=1)
    path = tmp_path / "data" / "custom.toml"
    path.write_text(head + model + "\n" + tail + extra)
    return path


@pytest.mark.parametrize(("model", "message"), [
    ('[model]\nlayers = [{ type = "conv2d", out_channels = 4 }]',
     "layer 1 (conv2d) needs 'kernel_size'"),
    ('[model]\nlayers = [{ type = "flatten" }, { type = "linear", out_features = 3 }]',
     "needs 10 outputs"),
    ('[model]\nlayers = [{ type = "linear", out_features = 10 }]', "gives [1, 8, 10] per example"),
    ('[model]\nkind = "mlp"\nhidden = [8]', "reads table rows, but the input gives examples of "
     "shape [1, 8, 8]"),
    ('[model]\nlayers = [{ type = "lambda", code = "os.system()" }]', "unknown type 'lambda'"),
    ('[model]\nlayers = []\nsize = 3', "model has no setting size"),
])
def test_a_model_mistake_in_a_job_file_names_the_layer(tmp_path: Path, model: str,
                                                       message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_job_file(_job(tmp_path, model))
    assert message.lower() in str(caught.value).lower()
    assert str(tmp_path) in str(caught.value)


def test_class_weights_must_fit_the_classes(tmp_path: Path) -> None:
    path = _job(tmp_path, '[model]\nlayers = [{ type = "flatten" }, '
                '{ type = "linear", out_features = 10 }]')
    text = path.read_text().replace("batch_size = 16", "batch_size = 16\nclass_weights = [1, 2]")
    path.write_text(text)
    with pytest.raises(ConfigError, match="2 weights for 10 classes"):
        load_job_file(path)


@pytest.mark.parametrize(("layers", "problem"), [
    ([{"type": "python", "code": "__import__('os').system('id')"}], "unknown type 'python'"),
    ([{"type": "linear", "out_features": 60_000}, {"type": "linear", "out_features": 60_000},
      {"type": "linear", "out_features": 2}], "parameters; at most"),
    ([{"type": "residual", "layers": [{"type": "residual", "layers": [{"type": "residual",
       "layers": [{"type": "residual", "layers": [{"type": "relu"}]}]}]}]},
      {"type": "linear", "out_features": 2}], "deeper than"),
])
def test_a_spec_from_the_network_that_is_code_or_too_big_is_refused_before_building(
    layers: list, problem: str
) -> None:
    """A requester's spec is data from a fixed vocabulary: a node refuses anything else, and
    any model above the size caps, before it builds or allocates anything."""
    import json

    from dain.node import JobSpec
    from dain.node.errors import ProtocolError

    raw = {"title": "t", "seed": 0, "strategy": "fedavg",
           "train": {"learning_rate": 0.1, "epochs": 1, "batch_size": 16, "momentum": 0.0},
           "model": {"kind": "layers", "input_shape": [8], "layers": layers, "num_classes": 2,
                     "num_features": 8, "feature_mean": [], "feature_scale": []}}  # fmt: skip
    with pytest.raises(ProtocolError, match=problem):
        JobSpec.from_bytes(json.dumps(raw).encode())
