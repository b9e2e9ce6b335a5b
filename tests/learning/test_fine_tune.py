"""Fine-tuning: a CNN pretrained on upright digits learns rotated ones by training only
low-rank adapters or its last layer; the first model is the pretrained one, only the
trained tensors travel (a small fraction of the model's bytes), DP-SGD and
`functional_call` work with the adapters, and a pretrained model that does not fit the
spec is refused naming the tensor."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from dain.learning import (
    FineTune,
    ModelSpec,
    ModelSpecError,
    PrivacyLevel,
    PrivacySpec,
    TrainConfig,
    accuracy,
    base_shapes,
    build_model,
    init_params,
    local_update,
    param_shapes,
    predict,
    train_local,
    train_local_dp,
    update_size,
    value_updates,
)
from dain.learning.fine_tune import LoRAConv2d, LoRALinear
from dain.storage import encode_half

CNN = [
    {"type": "conv2d", "out_channels": 32, "kernel_size": 3, "padding": 1}, {"type": "relu"},
    {"type": "max_pool2d", "kernel_size": 2},
    {"type": "conv2d", "out_channels": 64, "kernel_size": 3, "padding": 1}, {"type": "relu"},
    {"type": "max_pool2d", "kernel_size": 2},
    {"type": "flatten"},
    {"type": "linear", "out_features": 64}, {"type": "relu"},
    {"type": "linear", "out_features": 10},
]  # fmt: skip
SPEC = ModelSpec.network((1, 8, 8), CNN, 10)
LORA = FineTune("bafkreibase", train=("9",), lora_rank=2, lora_layers=("0", "3", "7"))
LAST = FineTune("bafkreibase", train=("9",))
TRAIN = TrainConfig(0.05, 3, 32, momentum=0.9)


@dataclasses.dataclass(frozen=True)
class Digits:
    x: np.ndarray
    y: np.ndarray

    def split(self, at: int) -> tuple[Digits, Digits]:
        return Digits(self.x[:at], self.y[:at]), Digits(self.x[at:], self.y[at:])


@pytest.fixture(scope="module")
def digits() -> Digits:
    from sklearn.datasets import load_digits

    found = load_digits()
    return Digits((found.images / 16).astype(np.float32)[:, None], found.target)


@pytest.fixture(scope="module")
def pretrained(digits: Digits) -> dict[str, np.ndarray]:
    """The CNN trained briefly on upright digits."""
    upright, _ = digits.split(1200)
    return train_local(SPEC, init_params(SPEC, 0), upright.x, upright.y,
                       TrainConfig(0.05, 5, 32, momentum=0.9), seed=0).params  # fmt: skip


@pytest.fixture(scope="module")
def rotated(digits: Digits) -> tuple[Digits, Digits]:
    """Other data: the digits turned a quarter, fine-tuning's task."""
    turned = Digits(np.ascontiguousarray(np.rot90(digits.x, axes=(2, 3))), digits.y)
    return turned.split(1200)


def fine_tuned(fine_tune: FineTune, base: dict[str, np.ndarray]) -> ModelSpec:
    return dataclasses.replace(SPEC, fine_tune=fine_tune).with_base(base)


@pytest.mark.parametrize("fine_tune", [LORA, LAST], ids=["lora", "last-layer"])
def test_the_first_model_computes_what_the_pretrained_one_does(
    fine_tune: FineTune, pretrained: dict, digits: Digits
) -> None:
    spec = fine_tuned(fine_tune, pretrained)

    first = init_params(spec, seed=7)

    x = torch.from_numpy(digits.x[1200:])
    plain, tuned = build_model(SPEC), build_model(spec)
    plain.load_state_dict({k: torch.from_numpy(v) for k, v in pretrained.items()})
    tuned.load_state_dict({k: torch.from_numpy(v) for k, v in first.items()}, strict=False)
    with torch.no_grad():
        assert torch.allclose(plain(x), tuned(x), atol=1e-5)
    assert np.array_equal(predict(spec, first, digits.x), predict(SPEC, pretrained, digits.x))


def test_only_the_adapters_and_the_trained_layer_travel(pretrained: dict, rotated: tuple) -> None:
    spec = fine_tuned(LORA, pretrained)
    train, _ = rotated

    update = local_update(spec, init_params(spec, 1), train.x[:200], train.y[:200], TRAIN,
                          PrivacySpec(), seed=0)  # fmt: skip

    assert param_shapes(spec) == {
        "0.lora_a.weight": (2, 1, 3, 3), "0.lora_b.weight": (32, 2, 1, 1),
        "3.lora_a.weight": (2, 32, 3, 3), "3.lora_b.weight": (64, 2, 1, 1),
        "7.lora_a.weight": (2, 256), "7.lora_b.weight": (64, 2),
        "9.weight": (10, 64), "9.bias": (10,),
    }  # fmt: skip
    assert {n: v.shape for n, v in update.delta.items()} == param_shapes(spec)
    assert base_shapes(spec) == param_shapes(SPEC)  # the pretrained model's own tensors
    sent = len(encode_half(update.delta))
    whole = len(encode_half(pretrained))
    size = update_size(spec)
    assert (size.update_bytes, size.full_bytes) == (sent, whole)
    assert size.trained == 18 + 64 + 576 + 128 + 512 + 128 + 650 and size.total == 35_914
    assert sent / whole < 0.1  # measured: 6.6%
    assert update_size(fine_tuned(LAST, pretrained)).share < 0.025  # 2.0%
    assert "KB of the model's" in size.describe()


@pytest.mark.parametrize(("fine_tune", "floor"), [(LORA, 0.75), (LAST, 0.55)],
                         ids=["lora", "last-layer"])  # fmt: skip
def test_fine_tuning_learns_other_data_with_the_pretrained_layers_frozen(
    fine_tune: FineTune, floor: float, pretrained: dict, rotated: tuple
) -> None:
    spec = fine_tuned(fine_tune, pretrained)
    train, test = rotated
    first = init_params(spec, 3)
    before = accuracy(spec, first, test.x, test.y)

    tuned = train_local(spec, first, train.x, train.y, TrainConfig(0.02, 10, 32, momentum=0.9),
                        seed=0).params  # fmt: skip

    after = accuracy(spec, tuned, test.x, test.y)
    assert before < 0.4 and after > floor
    assert accuracy(SPEC, pretrained, test.x, test.y) == before  # the base never moved
    assert set(tuned) == set(param_shapes(spec))


def test_dp_sgd_trains_the_adapters_with_per_record_gradients(
    pretrained: dict, rotated: tuple
) -> None:
    spec = fine_tuned(LORA, pretrained)
    train, _ = rotated
    first = init_params(spec, 2)
    privacy = PrivacySpec(PrivacyLevel.RECORD, 0.5, 1.0, 1e-5, sample_rate=0.2, steps=3)

    trained = train_local_dp(spec, first, train.x[:300], train.y[:300], TRAIN, privacy).params

    assert set(trained) == set(param_shapes(spec))
    assert all(not np.array_equal(trained[n], first[n]) for n in trained)  # each got noise
    module = build_model(spec)
    assert isinstance(module[3], LoRAConv2d) and isinstance(module[7], LoRALinear)
    assert not module[3].weight.requires_grad and module[3].lora_a.weight.requires_grad


def test_functional_call_swaps_the_adapters_and_valuation_uses_it(
    pretrained: dict, rotated: tuple
) -> None:
    spec = fine_tuned(LORA, pretrained)
    train, test = rotated
    first = init_params(spec, 4)
    updates = [local_update(spec, first, train.x[i::2][:150], train.y[i::2][:150], TRAIN,
                            PrivacySpec(), seed=i) for i in (0, 1)]  # fmt: skip
    moved = {n: torch.from_numpy(first[n] + updates[0].delta[n]) for n in first}
    module = build_model(spec).eval()

    out = torch.func.functional_call(module, moved, (torch.from_numpy(test.x[:50]),))

    module.load_state_dict(moved, strict=False)
    with torch.no_grad():
        assert torch.allclose(out, module(torch.from_numpy(test.x[:50])), atol=1e-5)
    valued = value_updates(spec, first, updates, test.x[:100], test.y[:100],
                           rng=np.random.default_rng(0))  # fmt: skip
    assert valued.method == "exact" and valued.utility_after > valued.utility_before


def test_conv1d_adapters_keep_the_first_model_and_work_under_dp() -> None:
    spec = ModelSpec.network((2, 12), [
        {"type": "conv1d", "out_channels": 6, "kernel_size": 3, "stride": 2, "padding": 1},
        {"type": "relu"}, {"type": "flatten"}, {"type": "linear", "out_features": 2},
    ], 2)  # fmt: skip
    base = init_params(spec, 0)
    tuned = dataclasses.replace(spec, fine_tune=FineTune("bafkreibase", lora_rank=3,
                                                          lora_alpha=6)).with_base(base)
    x = np.random.default_rng(0).normal(size=(40, 2, 12)).astype(np.float32)
    y = (x[:, 0, 0] > 0).astype(np.int64)

    first = init_params(tuned, 1)
    trained = train_local_dp(tuned, first, x, y, TRAIN,
                             PrivacySpec(PrivacyLevel.RECORD, 0.5, 1.0, 1e-5, sample_rate=0.3,
                                         steps=2)).params  # fmt: skip

    assert sorted(first) == ["0.lora_a.weight", "0.lora_b.weight", "3.lora_a.weight",
                             "3.lora_b.weight"]  # fmt: skip
    assert np.array_equal(predict(tuned, first, x), predict(spec, base, x))
    assert set(trained) == set(first)


def test_a_fine_tuning_spec_round_trips_and_other_specs_keep_their_form() -> None:
    spec = dataclasses.replace(SPEC, fine_tune=LORA)

    again = ModelSpec.from_dict(spec.to_dict())

    assert again == spec and again.fine_tune is not None and again.fine_tune.lora_alpha == 2.0
    assert spec.to_dict()["fine_tune"] == {
        "base_cid": "bafkreibase", "train": ["9"],
        "lora": {"rank": 2, "alpha": 2.0, "layers": ["0", "3", "7"]},
    }  # fmt: skip
    assert "fine_tune" not in SPEC.to_dict()
    assert spec.with_base(init_params(SPEC, 0)) == spec  # the tensors are no part of the spec
    assert "base" not in json_keys(spec.with_base(init_params(SPEC, 0)).to_dict())


def json_keys(raw: dict) -> set[str]:
    return set(raw) | {k for v in raw.values() if isinstance(v, dict) for k in v}


@pytest.mark.parametrize(("change", "message"), [
    (lambda b: {k: v for k, v in b.items() if k != "9.bias"}, "lacks '9.bias'"),
    (lambda b: b | {"10.weight": np.zeros(3, np.float32)}, "has '10.weight', which the model"),
    (lambda b: b | {"7.weight": np.zeros((32, 256), np.float32)},
     r"'7.weight' has shape \[32, 256\], but the spec's architecture needs \[64, 256\]"),
    (lambda b: b | {"0.bias": np.full(32, np.nan, np.float32)}, "'0.bias' holds NaN"),
])  # fmt: skip
def test_a_pretrained_model_that_does_not_fit_is_refused_naming_the_tensor(
    change: object, message: str
) -> None:
    base = init_params(SPEC, 0)
    with pytest.raises(ModelSpecError, match=message):
        dataclasses.replace(SPEC, fine_tune=LORA).with_base(change(base))  # type: ignore[operator]


@pytest.mark.parametrize(("fine_tune", "message"), [
    (dict(train=("12",)), "trains '12', but the model has no such layer"),
    (dict(lora_rank=2, lora_layers=("1",)), "LoRA layer '1' is not a linear or convolution"),
    (dict(train=("7.bias",), lora_rank=2, lora_layers=("7",)), "'7.bias' is both trained"),
    (dict(), "trains nothing"),
    (dict(train=("9",), lora_rank=999), "rank must be 1 to 256"),
    (dict(train=("9; import os",)), "no layer or tensor name"),
    (dict(train=("9",), lora_alpha=4.0), "adapters have no rank"),
])  # fmt: skip
def test_a_fine_tuning_mistake_is_refused_naming_it(fine_tune: dict, message: str) -> None:
    with pytest.raises(ModelSpecError, match=message):
        dataclasses.replace(SPEC, fine_tune=FineTune("bafkreibase", **fine_tune))


def test_a_fine_tuning_model_is_not_built_without_its_pretrained_tensors() -> None:
    spec = dataclasses.replace(SPEC, fine_tune=LAST)
    assert param_shapes(spec) == {"9.weight": (10, 64), "9.bias": (10,)}  # needs no tensors
    with pytest.raises(ModelSpecError, match="bafkreibase is not loaded"):
        init_params(spec, 0)
