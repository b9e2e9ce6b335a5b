"""A fine-tuning job end to end on the in-process network: the requester's job file names
a pretrained CNN (a safetensors file), the hospitals fetch it by its content id from the
requester once and fine-tune it on their own (rotated) digits with LoRA adapters and the
last layer; only those tensors travel, a small fraction of the model's bytes. A pretrained
model that does not fit the spec, and every job-file mistake, are refused naming the key."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from dain.data import ConsentPolicy, Dataset
from dain.devnet import Devnet
from dain.errors import ConfigError
from dain.learning import (
    FineTune,
    ModelSpec,
    TrainConfig,
    accuracy,
    init_params,
    param_shapes,
    predict,
    train_local,
    update_size,
)
from dain.ledger import TOKEN_UNIT, JobTerms
from dain.node import JobSpec, PeerUnavailable, ProtocolError
from dain.node.job_file import load_job_file
from dain.storage import decode_tensors, encode_half, encode_tensors

CLASSES = [str(c) for c in range(10)]
LAYERS = """[
  { type = "conv2d", out_channels = 32, kernel_size = 3, padding = 1 }, { type = "relu" },
  { type = "max_pool2d", kernel_size = 2 },
  { type = "conv2d", out_channels = 64, kernel_size = 3, padding = 1 }, { type = "relu" },
  { type = "max_pool2d", kernel_size = 2 },
  { type = "flatten" },
  { type = "linear", out_features = 64 }, { type = "relu" },
  { type = "linear", out_features = 10 },
]"""
FINE_TUNE = 'base = "pretrained.safetensors"\ntrain = [9]\nlora = { rank = 2, layers = [0, 3, 7] }'


@dataclasses.dataclass(frozen=True)
class Digits:
    upright: np.ndarray
    rotated: np.ndarray
    y: np.ndarray


@pytest.fixture(scope="module")
def digits() -> Digits:
    from sklearn.datasets import load_digits

    found = load_digits()
    x = (found.images / 16).astype(np.float32)[:, None]
    return Digits(x, np.ascontiguousarray(np.rot90(x, axes=(2, 3))), found.target)


@pytest.fixture(scope="module")
def pretrained(digits: Digits) -> dict[str, np.ndarray]:
    """A CNN trained briefly on upright digits: the model the job starts from."""
    spec = plain_spec()
    return train_local(spec, init_params(spec, 0), digits.upright[:1200], digits.y[:1200],
                       TrainConfig(0.05, 5, 32, momentum=0.9), seed=0).params  # fmt: skip


def plain_spec() -> ModelSpec:
    import tomllib

    return ModelSpec.network((1, 8, 8), tomllib.loads(f"layers = {LAYERS}")["layers"], 10)


def job_file(folder: Path, model: str = FINE_TUNE, base: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if base is not None:
        save_file(base, str(folder / "pretrained.safetensors"))
    path = folder / "job.toml"
    path.write_text(f"""
title = "Rotated digits from a pretrained CNN"
purpose = "diagnosis"
rounds = 3
pool = "1 DAIN"
seed = 4

[input]
kind = "image"
shape = [1, 8, 8]
classes = {json.dumps(CLASSES)}

[model]
layers = {LAYERS}
{model}

[training]
learning_rate = 0.02
momentum = 0.9
epochs = 3
batch_size = 32
""")
    return path


def test_a_fine_tuning_job_trains_only_the_adapters_on_the_network(
    tmp_path: Path, pretrained: dict, digits: Digits
) -> None:
    plan = load_job_file(job_file(tmp_path, base=pretrained))
    spec = plan.spec
    net = Devnet(record=True)
    hospitals = [net.add_node(f"h{i}", tokens=10_000) for i in range(2)]
    researcher = net.add_node("researcher", tokens=10_000)
    assets = [
        h.register_asset(Dataset(h.name, digits.rotated[i:1200:2], digits.y[i:1200:2], (),
                                 "class", tuple(CLASSES), "image"), h.name,
                         ConsentPolicy(("diagnosis",)))
        for i, h in enumerate(hospitals)
    ]  # fmt: skip
    first = researcher.blobs.put(plan.first_model(researcher.blobs))  # as `dain job propose`
    job_id = researcher.ledger.propose_job(
        JobTerms("diagnosis", 3, TOKEN_UNIT, researcher.blobs.put(spec.to_bytes()), first)
    )
    net.pass_proposal(researcher.ledger.gov.propose_job_approval(job_id), list(net.nodes.values()))
    for hospital, asset in zip(hospitals, assets, strict=True):
        hospital.ledger.jobs.enroll(job_id, asset)
    researcher.ledger.jobs.start(job_id)

    records = [net.run_round(job_id, r)[0] for r in (1, 2, 3)]

    assert all(r is not None for r in records)
    base_cid = spec.model.fine_tune.base_cid  # type: ignore[union-attr]
    fetched = [c.request.path for c in net.transport.carried if c.request.method == "GET"]
    assert fetched.count(f"/blobs/{base_cid}") == 2  # once by each hospital, from the requester
    assert all(h.blobs.has(base_cid) for h in hospitals)
    tuned = hospitals[0].models.spec(hospitals[0].ledger.jobs.job(job_id)).model
    shapes = param_shapes(tuned)
    assert sorted(shapes) == ["0.lora_a.weight", "0.lora_b.weight", "3.lora_a.weight",
                              "3.lora_b.weight", "7.lora_a.weight", "7.lora_b.weight",
                              "9.bias", "9.weight"]  # fmt: skip
    start = decode_tensors(researcher.blobs.get(first), expected=shapes)
    held = digits.rotated[1200:], digits.y[1200:]
    assert np.array_equal(predict(tuned, start, held[0]), predict(plain_spec(), pretrained,
                                                                  held[0]))  # fmt: skip
    final_cid = records[-1].model_cid  # type: ignore[union-attr]
    held_by = next(n for n in net.nodes.values() if n.blobs.has(final_cid))
    final = decode_tensors(held_by.blobs.get(final_cid), expected=shapes)
    assert accuracy(tuned, final, *held) > accuracy(tuned, start, *held) + 0.3
    updates = [len(c.request.body) for c in net.transport.carried
               if c.request.method == "POST" and c.request.path == "/blobs"]  # fmt: skip
    whole = len(encode_half(pretrained))  # an update of the whole model
    size = update_size(tuned)
    assert updates and max(updates) < 0.1 * whole
    assert size.full_bytes == whole and size.share < 0.1
    assert "each update carries" in plan.description and base_cid in plan.description


def test_a_pretrained_model_that_does_not_fit_the_spec_is_refused_by_the_nodes(
    pretrained: dict, digits: Digits
) -> None:
    net = Devnet()
    hospital = net.add_node("h", tokens=10_000)
    researcher = net.add_node("researcher", tokens=10_000)
    wrong = pretrained | {"7.weight": np.zeros((64, 128), np.float32)}
    base_cid = researcher.blobs.put(encode_tensors(wrong))
    model = dataclasses.replace(plain_spec(), fine_tune=FineTune(base_cid, ("9",)))
    spec = JobSpec("wrong base", model, TrainConfig(0.02, 1, 32))
    first = researcher.blobs.put(encode_tensors(init_params(plain_spec(), 0)))
    job_id = researcher.ledger.propose_job(
        JobTerms("diagnosis", 3, TOKEN_UNIT, researcher.blobs.put(spec.to_bytes()), first)
    )
    net.pass_proposal(researcher.ledger.gov.propose_job_approval(job_id), list(net.nodes.values()))
    asset = hospital.register_asset(Dataset("h", digits.rotated[:100], digits.y[:100], (),
                                            "class", tuple(CLASSES), "image"), "h",
                                    ConsentPolicy(("diagnosis",)))  # fmt: skip
    with pytest.raises(PeerUnavailable):  # the requester serves it to participants only
        hospital.models.spec(hospital.ledger.jobs.job(job_id))
    hospital.ledger.jobs.enroll(job_id, asset)
    job = hospital.ledger.jobs.job(job_id)

    with pytest.raises(ProtocolError) as caught:
        hospital.models.spec(job)

    assert "does not fit its spec" in str(caught.value)
    assert "'7.weight' has shape [64, 128], but the spec's architecture needs [64, 256]" in \
        str(caught.value)


@pytest.mark.parametrize(("model", "base", "message"), [
    (FINE_TUNE, {"0.weight": np.zeros((32, 1, 3, 3), np.float32)},
     "model.base: The pretrained model does not fit the spec's architecture: it lacks '0.bias'"),
    (FINE_TUNE.replace("pretrained", "missing"), None, "model.base: no file at"),
    ('train = [9]', None, "model.base is missing"),
    (FINE_TUNE.replace("train = [9]", "train = [12]"), "pretrained",
     "model.train: Fine-tuning trains '12', but the model has no such layer"),
    (FINE_TUNE.replace("layers = [0, 3, 7]", "layers = [1]"), "pretrained",
     "model.lora: LoRA layer '1' is not a linear or convolution layer"),
    (FINE_TUNE.replace("rank = 2", "rank = 2, size = 3"), "pretrained",
     "model.lora has no setting size"),
    (FINE_TUNE.replace("rank = 2", "alpha = 2"), "pretrained", "model.lora.rank is missing"),
    (FINE_TUNE.replace("train = [9]", "train = [7.5]"), "pretrained",
     "model.train must be a list of layer numbers"),
    (FINE_TUNE.replace("train = [9]", 'train = ["7.bias"]'), "pretrained",
     "model.train and model.lora: '7.bias' is both trained and adapted"),
    (FINE_TUNE + '\nbase_cid = "bafkreia"', "pretrained", "model has both base and base_cid"),
])  # fmt: skip
def test_a_fine_tuning_mistake_in_a_job_file_names_its_key(
    tmp_path: Path, pretrained: dict, model: str, base: object, message: str
) -> None:
    tensors = pretrained if base == "pretrained" else base
    with pytest.raises(ConfigError) as caught:
        load_job_file(job_file(tmp_path, model, tensors))  # type: ignore[arg-type]
    assert message in str(caught.value)


def test_a_base_cid_names_a_blob_in_the_proposing_nodes_store(
    tmp_path: Path, pretrained: dict
) -> None:
    from dain.storage import MemoryBlobStore

    blobs = MemoryBlobStore()
    base_cid = blobs.put(encode_tensors(pretrained))
    plan = load_job_file(job_file(tmp_path, f'base_cid = "{base_cid}"\ntrain = [9]'))

    first = decode_tensors(plan.first_model(blobs))

    assert plan.spec.model.fine_tune == FineTune(base_cid, ("9",))
    assert first.keys() == {"9.weight", "9.bias"}
    assert np.array_equal(first["9.weight"], pretrained["9.weight"])
    with pytest.raises(ConfigError, match=r"model\.base_cid: this node's store holds no blob"):
        plan.first_model(MemoryBlobStore())
