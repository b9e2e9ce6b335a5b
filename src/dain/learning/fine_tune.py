"""Fine-tuning a pretrained model: only chosen tensors, or low-rank adapters (LoRA, Hu et
al. 2021), are trained, and only they travel.

A job names its pretrained model (the *base*: the tensors of the spec's own network, as a
safetensors blob whose content id is in the spec) and what trains:

- `train`: tensors of the base, by name or by prefix ("7" is layer 7's "7.weight" and
  "7.bias", "3.body.0" a layer inside residual block 3, "7.bias" one tensor);
- `lora_rank` > 0: each linear or convolution in `lora_layers` (every one when empty)
  gets an adapter, so that it computes base(x) + (alpha / r) B(A(x)) with A of r rows
  drawn from the job's seed and B zero: the first model is the pretrained one.

Everything else is frozen at the base's values. The adapters are plain `nn.Linear` and
`nn.Conv` children, so Opacus computes their per-record gradients (record-level DP) and
`torch.func.functional_call` swaps them by name like any other tensor. Layers are counted
from 0, as the tensors are named."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from dain.learning.architecture import Layer, Shape, layer_shape
from dain.learning.errors import ModelSpecError

MAX_RANK = 256
MAX_NAMES = 256  # entries of `train` or `lora_layers`
ADAPTABLE = ("linear", "conv1d", "conv2d")
_NAME = re.compile(r"^[0-9]+(\.[A-Za-z0-9_]+)*$")


@dataclass(frozen=True)
class FineTune:
    """What a fine-tuning job starts from and trains (see the module's docstring)."""

    base_cid: str  # the pretrained model: the spec network's tensors, float32 safetensors
    train: tuple[str, ...] = ()  # tensor names or prefixes trained as they are
    lora_rank: int = 0  # 0: no adapters
    lora_alpha: float = 0.0  # the adapters' output scale is alpha / rank; 0: alpha = rank
    lora_layers: tuple[str, ...] = ()  # module paths ("0", "3.body.0"); (): every one

    def __post_init__(self) -> None:
        if not isinstance(self.base_cid, str) or not self.base_cid.strip():
            raise ModelSpecError("Fine-tuning needs the pretrained model's content id.")
        if not self.train and not self.lora_rank:
            raise ModelSpecError(
                "Fine-tuning trains nothing: name tensors to train or give adapters a rank.",
                hint="Set train = [\"7\"] (layer 7's tensors) or lora = { rank = 4 }.",
            )
        if not 0 <= self.lora_rank <= MAX_RANK:
            raise ModelSpecError(f"The LoRA rank must be 1 to {MAX_RANK}, not {self.lora_rank}.")
        if not (math.isfinite(self.lora_alpha) and self.lora_alpha >= 0):
            raise ModelSpecError(f"LoRA's alpha must be a positive number, not {self.lora_alpha}.")
        if (self.lora_layers or self.lora_alpha) and not self.lora_rank:
            raise ModelSpecError("LoRA layers or alpha are given, but the adapters have no rank.")
        if self.lora_rank and not self.lora_alpha:
            object.__setattr__(self, "lora_alpha", float(self.lora_rank))
        for what, names in (("train", self.train), ("LoRA layers", self.lora_layers)):
            if len(names) > MAX_NAMES or len(set(names)) != len(names):
                raise ModelSpecError(f"The {what} list must hold at most {MAX_NAMES} distinct "
                                     "names.")  # fmt: skip
            bad = [n for n in names if not (isinstance(n, str) and _NAME.match(n))]
            if bad:
                raise ModelSpecError(
                    f"The {what} list holds {bad[0]!r}, which is no layer or tensor name.",
                    hint="Layers are counted from 0 as the tensors are named: \"7\", "
                    "\"3.body.0\", \"7.bias\".",
                )

    @property
    def scale(self) -> float:
        """alpha / r: what the adapters' output is multiplied by."""
        return self.lora_alpha / self.lora_rank if self.lora_rank else 0.0

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"base_cid": self.base_cid, "train": list(self.train)}
        if self.lora_rank:
            found["lora"] = {"rank": self.lora_rank, "alpha": self.lora_alpha,
                             "layers": list(self.lora_layers)}  # fmt: skip
        return found

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> FineTune:
        lora = raw.get("lora") or {}
        return cls(
            str(raw["base_cid"]),
            tuple(str(n) for n in raw.get("train", ())),
            int(lora.get("rank", 0)),
            float(lora.get("alpha", 0.0)),
            tuple(str(n) for n in lora.get("layers", ())),
        )


def adaptable(input_shape: Shape, layers: Sequence[Layer], prefix: str = "") -> dict[str, str]:
    """The module path and type of every linear and convolution of a layer list, residual
    blocks' bodies included: the layers an adapter may be put on."""
    found: dict[str, str] = {}
    shape = tuple(input_shape)
    for i, lay in enumerate(layers):
        if lay.type in ADAPTABLE:
            found[f"{prefix}{i}"] = lay.type
        if lay.type == "residual":
            found |= adaptable(shape, lay.body, f"{prefix}{i}.body.")
        else:
            shape, _ = layer_shape(lay, shape, lay.type)
    return found


def check_fine_tune(
    fine_tune: FineTune, tensors: Mapping[str, tuple[int, ...]], layers: Mapping[str, str]
) -> None:
    """Refuses train names that match no tensor of the network (`tensors`: the base's
    names and shapes), adapters on anything but its linear and convolution layers
    (`layers`, from `adaptable`), and tensors both trained and adapted."""
    for prefix in fine_tune.train:
        if not _matching(prefix, tensors):
            raise ModelSpecError(
                f"Fine-tuning trains '{prefix}', but the model has no such layer or tensor.",
                hint=f"Its tensors: {_listed(tensors)}.",
            )
    for path in fine_tune.lora_layers:
        if path not in layers:
            raise ModelSpecError(
                f"LoRA layer '{path}' is not a linear or convolution layer of the model.",
                hint=f"Those it has (counted from 0): {_listed(layers) or 'none'}.",
            )
    if fine_tune.lora_rank and not layers:
        raise ModelSpecError("The model has no linear or convolution layer to adapt.")
    adapted = (fine_tune.lora_layers or tuple(layers)) if fine_tune.lora_rank else ()
    for prefix in fine_tune.train:
        both = [n for n in _matching(prefix, tensors) if any(_under(n, p) for p in adapted)]
        if both:
            raise ModelSpecError(
                f"'{both[0]}' is both trained and adapted by LoRA: an adapted layer's own "
                "tensors stay frozen.",
                hint=f"Drop '{prefix}' from train, or its layer from the LoRA layers.",
            )


def trainable_names(fine_tune: FineTune, tensors: Iterable[str]) -> set[str]:
    """The base's tensors that `train` names."""
    return {n for n in tensors if any(_under(n, p) for p in fine_tune.train)}


def check_base(base: Mapping[str, np.ndarray], expected: Mapping[str, tuple[int, ...]]) -> None:
    """Refuses a pretrained model whose tensors are not the spec network's, naming them."""
    missing = sorted(set(expected) - set(base))
    extra = sorted(set(base) - set(expected))
    if missing or extra:
        parts = ([f"lacks {_listed(missing)}"] if missing else []) + (
            [f"has {_listed(extra)}, which the model does not"] if extra else [])  # fmt: skip
        raise ModelSpecError(
            f"The pretrained model does not fit the spec's architecture: it "
            f"{' and '.join(parts)}.",
            hint="The base must hold exactly the tensors of the spec's layers, named as dain "
            "names them ('0.weight', '3.body.0.bias').",
        )
    for name, shape in expected.items():
        found = tuple(np.shape(base[name]))
        if found != tuple(shape):
            raise ModelSpecError(
                f"The pretrained model's tensor '{name}' has shape {list(found)}, but the "
                f"spec's architecture needs {list(shape)}.",
                hint="Give the layers the sizes the pretrained model was trained with.",
            )
        if not np.isfinite(base[name]).all():
            raise ModelSpecError(f"The pretrained model's tensor '{name}' holds NaN or "
                                 "infinite values.")  # fmt: skip


class LoRALinear(nn.Linear):
    """A frozen linear layer plus a low-rank adapter: W x + b + s B(A x)."""

    def __init__(self, base: nn.Linear, rank: int, scale: float) -> None:
        super().__init__(base.in_features, base.out_features, bias=base.bias is not None,
                         device="meta")  # fmt: skip
        device = base.weight.device
        self.weight, self.bias = base.weight, base.bias
        self.lora_a = nn.Linear(base.in_features, rank, bias=False, device=device)
        self.lora_b = nn.Linear(rank, base.out_features, bias=False, device=device)
        nn.init.zeros_(self.lora_b.weight)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) + self.scale * self.lora_b(self.lora_a(x))


class LoRAConv1d(nn.Conv1d):
    """A frozen 1-D convolution plus an adapter: A a convolution of r output channels with
    the base's kernel, stride and padding, B a 1-wide one back to the base's channels."""

    def __init__(self, base: nn.Conv1d, rank: int, scale: float) -> None:
        super().__init__(**_conv_options(base), device="meta")
        self.weight, self.bias = base.weight, base.bias
        self.lora_a, self.lora_b = _conv_adapter(nn.Conv1d, base, rank)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) + self.scale * self.lora_b(self.lora_a(x))


class LoRAConv2d(nn.Conv2d):
    """A frozen 2-D convolution plus an adapter (as `LoRAConv1d`)."""

    def __init__(self, base: nn.Conv2d, rank: int, scale: float) -> None:
        super().__init__(**_conv_options(base), device="meta")
        self.weight, self.bias = base.weight, base.bias
        self.lora_a, self.lora_b = _conv_adapter(nn.Conv2d, base, rank)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) + self.scale * self.lora_b(self.lora_a(x))


def _conv_options(base: nn.Conv1d | nn.Conv2d) -> dict[str, Any]:
    return {"in_channels": base.in_channels, "out_channels": base.out_channels,
            "kernel_size": base.kernel_size, "stride": base.stride, "padding": base.padding,
            "dilation": base.dilation, "groups": base.groups, "bias": base.bias is not None,
            "padding_mode": base.padding_mode}  # fmt: skip


def _conv_adapter(
    conv: type[nn.Conv1d] | type[nn.Conv2d], base: nn.Conv1d | nn.Conv2d, rank: int
) -> tuple[nn.Module, nn.Module]:
    device = base.weight.device
    a = conv(base.in_channels, rank, base.kernel_size, stride=base.stride,  # type: ignore[arg-type]
             padding=base.padding, dilation=base.dilation, bias=False, device=device)  # fmt: skip
    b = conv(rank, base.out_channels, 1, bias=False, device=device)
    nn.init.zeros_(b.weight)
    return a, b


_ADAPTERS: dict[type[nn.Module], type[nn.Module]] = {
    nn.Linear: LoRALinear, nn.Conv1d: LoRAConv1d, nn.Conv2d: LoRAConv2d,
}  # fmt: skip


def adapt(module: nn.Sequential, fine_tune: FineTune, layers: Iterable[str]) -> nn.Sequential:
    """Puts adapters on `layers` (module paths) and freezes every tensor but the adapters
    and those `train` names. The adapters' A is drawn from torch's generator as the
    module is built (seeded by `init_params`), B is zero."""
    if fine_tune.lora_rank:
        for path in layers:
            parent_path, _, name = path.rpartition(".")
            parent = module.get_submodule(parent_path) if parent_path else module
            base = parent.get_submodule(name)
            adapter = _ADAPTERS[type(base)]
            setattr(parent, name, adapter(base, fine_tune.lora_rank, fine_tune.scale))
    adapters = {f"{p}.lora_a.weight" for p in layers} | {f"{p}.lora_b.weight" for p in layers}
    trained = trainable_names(fine_tune, (n for n, _ in module.named_parameters()))
    for name, param in module.named_parameters():
        param.requires_grad_(name in trained or (fine_tune.lora_rank > 0 and name in adapters))
    return module


def load_base(module: nn.Module, base: Mapping[str, np.ndarray]) -> None:
    """Copies the pretrained tensors into an adapted module (the adapters keep theirs)."""
    missing, unexpected = module.load_state_dict(
        {name: torch.from_numpy(np.array(t, dtype=np.float32)) for name, t in base.items()},
        strict=False,
    )
    if unexpected or any(".lora_" not in n for n in missing):
        raise ModelSpecError("The pretrained model does not fit the adapted network.")


def _matching(prefix: str, names: Iterable[str]) -> list[str]:
    return [n for n in names if _under(n, prefix)]


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _listed(names: Iterable[str], most: int = 12) -> str:
    found = list(names)
    shown = ", ".join(f"'{n}'" for n in found[:most])
    return shown + (f" and {len(found) - most} more" if len(found) > most else "")
