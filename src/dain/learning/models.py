"""Model specifications and their PyTorch modules; their parameters as `Params`."""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from dain.learning.architecture import Layer, check_input_shape, layer, parse_layers, plan
from dain.learning.errors import ModelSpecError
from dain.learning.fine_tune import (
    FineTune,
    adapt,
    adaptable,
    check_base,
    check_fine_tune,
    load_base,
)
from dain.learning.network import build_network
from dain.learning.params import Params
from dain.storage import encode_half

KINDS = ("logreg", "mlp", "layers")


@dataclass(frozen=True)
class ModelSpec:
    """What to train: logistic regression, an MLP with `hidden` layer widths, or ("layers")
    any network of the vocabulary in `dain.learning.architecture` on inputs of
    `input_shape` (one example's shape). Logistic regression and the MLP are named layer
    lists themselves (`architecture`); their own short form keeps older specs' content ids.

    `feature_mean` / `feature_scale` standardize inputs identically on every node; the
    requester publishes them in the job spec (computed on its own evaluation data): one
    value per feature of a table row or a series' step, per channel of an image.

    `fine_tune` starts from a pretrained model and trains part of it
    (`dain.learning.fine_tune`): the tensors that travel (`param_shapes`) are then the
    trained ones only. The pretrained tensors themselves (`base`) are no part of the
    spec's content: a node fetches them by the content id `fine_tune` names and attaches
    them (`with_base`) before it builds the model.
    """

    kind: str
    num_features: int
    num_classes: int
    hidden: tuple[int, ...] = ()
    feature_mean: tuple[float, ...] = field(default=(), repr=False)
    feature_scale: tuple[float, ...] = field(default=(), repr=False)
    input_shape: tuple[int, ...] = ()  # kind "layers" only
    layers: tuple[Layer, ...] = ()  # kind "layers" only
    # a regression model predicts (target - target_mean) / target_scale, so that one
    # learning rate fits targets in any unit (megawatts, euros)
    target_mean: float = 0.0
    target_scale: float = 1.0
    fine_tune: FineTune | None = None
    base: Params | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ModelSpecError(f"Unknown model kind '{self.kind}'.", hint=f"Use one of {KINDS}.")
        if self.num_classes < 1 or (self.kind != "layers" and self.num_features < 1):
            raise ModelSpecError(
                "A model needs at least one feature, and one output (regression) or two classes."
            )
        if self.kind == "logreg" and self.hidden:
            raise ModelSpecError("Logistic regression has no hidden layers.")
        if self.kind == "mlp" and (not self.hidden or min(self.hidden) < 1):
            raise ModelSpecError("An MLP needs at least one hidden layer of positive width.")
        if self.kind == "layers":
            self._check_layers()
        elif self.input_shape or self.layers:
            raise ModelSpecError(f"A '{self.kind}' model takes no layer list; use kind 'layers'.")
        for stats in (self.feature_mean, self.feature_scale):
            if stats and len(stats) != self.stats_size:
                raise ModelSpecError(
                    f"Feature statistics must have {self.stats_size} values (one per "
                    f"{'channel' if len(self.example_shape) == 3 else 'feature'}), not "
                    f"{len(stats)}."
                )
        if self.feature_scale and min(self.feature_scale) <= 0:
            raise ModelSpecError("Feature scales must be positive.")
        if not (math.isfinite(self.target_mean) and self.target_scale > 0
                and math.isfinite(self.target_scale)):  # fmt: skip
            raise ModelSpecError("The target's scale must be a positive number.")
        if not self.is_regression and (self.target_mean, self.target_scale) != (0.0, 1.0):
            raise ModelSpecError("Only a regression model standardizes its target.")
        if self.fine_tune is not None:
            check_fine_tune(self.fine_tune, base_shapes(self), self.adaptable_layers)
        if self.base is not None:
            if self.fine_tune is None:
                raise ModelSpecError("Only a fine-tuning model starts from a pretrained one.")
            check_base(self.base, base_shapes(self))

    def _check_layers(self) -> None:
        if self.hidden:
            raise ModelSpecError("A 'layers' model lists its layers, not 'hidden' widths.")
        if not self.layers:
            raise ModelSpecError("A 'layers' model needs its list of layers.")
        found = plan(self.input_shape, self.layers)
        if found.output != (self.num_classes,):
            raise ModelSpecError(
                f"The model's last layer gives {list(found.output)} per example, but the job "
                f"needs {self.num_classes} output{'s' if self.num_classes > 1 else ''} (one "
                "score per class, or one value for regression).",
                hint=f"End with a 'flatten' if needed and a 'linear' of out_features = "
                f"{self.num_classes}.",
            )
        if self.num_features != math.prod(self.input_shape):
            object.__setattr__(self, "num_features", math.prod(self.input_shape))

    @classmethod
    def network(
        cls,
        input_shape: tuple[int, ...],
        layers: Any,
        num_classes: int,
        feature_mean: tuple[float, ...] = (),
        feature_scale: tuple[float, ...] = (),
    ) -> ModelSpec:
        """A "layers" model; `layers` as `Layer`s or as the spec's list of tables."""
        if not layers or not all(isinstance(lay, Layer) for lay in layers):
            layers = parse_layers(layers)
        shape = check_input_shape(input_shape)
        return cls("layers", math.prod(shape), num_classes, (), tuple(feature_mean),
                   tuple(feature_scale), shape, tuple(layers))  # fmt: skip

    @property
    def example_shape(self) -> tuple[int, ...]:
        """One example's shape as the model reads it."""
        return self.input_shape or (self.num_features,)

    @property
    def stats_size(self) -> int:
        """How many standardization values: per channel of an image, else per feature."""
        shape = self.example_shape
        return shape[0] if len(shape) == 3 else shape[-1]

    @property
    def architecture(self) -> tuple[Layer, ...]:
        """The model as a layer list, whatever its kind."""
        if self.kind == "layers":
            return self.layers
        widths = [*self.hidden, self.num_classes]
        found: list[Layer] = []
        for i, width in enumerate(widths):
            found.append(layer("linear", out_features=width))
            if i < len(widths) - 1:
                found.append(layer("relu"))
        return tuple(found)

    @property
    def adaptable_layers(self) -> dict[str, str]:
        """The module paths of the model's linear and convolution layers, and their types."""
        return adaptable(self.example_shape, self.architecture)

    @property
    def adapted_layers(self) -> tuple[str, ...]:
        """The layers that get LoRA adapters (none without fine-tuning or a rank)."""
        if self.fine_tune is None or not self.fine_tune.lora_rank:
            return ()
        return self.fine_tune.lora_layers or tuple(self.adaptable_layers)

    def with_base(self, base: Params) -> ModelSpec:
        """This spec with its pretrained tensors attached, once they are checked against
        its architecture (as float32, read-only: every model built from it shares them)."""
        frozen = {}
        for name, t in base.items():
            frozen[name] = np.array(t, dtype=np.float32)
            frozen[name].setflags(write=False)
        return dataclasses.replace(self, base=frozen)

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "kind": self.kind,
            "num_features": self.num_features,
            "num_classes": self.num_classes,
            "hidden": list(self.hidden),
            "feature_mean": list(self.feature_mean),
            "feature_scale": list(self.feature_scale),
        }
        if self.kind == "layers":
            del found["hidden"]
            found["input_shape"] = list(self.input_shape)
            found["layers"] = [lay.to_dict() for lay in self.layers]
        # written only when used, so specs made before them keep their content ids
        if (self.target_mean, self.target_scale) != (0.0, 1.0):
            found["target_mean"], found["target_scale"] = self.target_mean, self.target_scale
        if self.fine_tune is not None:
            found["fine_tune"] = self.fine_tune.to_dict()
        return found

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ModelSpec:
        try:
            target = {"target_mean": float(raw.get("target_mean", 0.0)),
                      "target_scale": float(raw.get("target_scale", 1.0)),
                      "fine_tune": FineTune.from_dict(raw["fine_tune"]) if raw.get("fine_tune")
                      else None}  # fmt: skip
            if raw.get("kind") == "layers":
                return dataclasses.replace(cls.network(
                    tuple(int(d) for d in raw["input_shape"]),
                    raw["layers"],
                    int(raw["num_classes"]),
                    tuple(float(v) for v in raw.get("feature_mean", ())),
                    tuple(float(v) for v in raw.get("feature_scale", ())),
                ), **target)  # fmt: skip
            return cls(
                **target,
                kind=str(raw["kind"]),
                num_features=int(raw["num_features"]),
                num_classes=int(raw["num_classes"]),
                hidden=tuple(int(h) for h in raw.get("hidden", ())),
                feature_mean=tuple(float(v) for v in raw.get("feature_mean", ())),
                feature_scale=tuple(float(v) for v in raw.get("feature_scale", ())),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelSpecError(f"Malformed model specification ({exc!r}).") from exc

    @property
    def is_regression(self) -> bool:
        """One output: a regression model (squared error); otherwise a classifier."""
        return self.num_classes == 1

    def check_rows(self, x: np.ndarray) -> None:
        """Refuses rows whose examples are not of the model's input shape."""
        if tuple(x.shape[1:]) != self.example_shape:
            raise ModelSpecError(
                f"The data's examples have shape {list(x.shape[1:])}, but the model reads "
                f"{list(self.example_shape)}.",
                hint="The data must be conformed to the job's input schema first.",
            )

    def standardize(self, x: np.ndarray) -> np.ndarray:
        if not self.feature_mean:
            return x.astype(np.float32, copy=False)
        axis_shape = (-1, 1, 1) if len(self.example_shape) == 3 else (-1,)
        mean = np.asarray(self.feature_mean, dtype=np.float32).reshape(axis_shape)
        scale = np.asarray(self.feature_scale, dtype=np.float32).reshape(axis_shape)
        return ((x - mean) / scale).astype(np.float32, copy=False)


def feature_statistics(x: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and scale per feature (of a table row or a series' step) or per channel (of an
    image: examples of three axes); a constant one gets scale 1."""
    axes = (0, 2, 3) if x.ndim == 4 else tuple(range(x.ndim - 1))
    mean = x.mean(axis=axes)
    scale = x.std(axis=axes)
    scale[scale == 0] = 1.0
    return tuple(float(v) for v in mean), tuple(float(v) for v in scale)


def build_model(spec: ModelSpec) -> nn.Sequential:
    """The model's module. A fine-tuning model's has its adapters, its pretrained tensors
    (the spec's `base`, which must be attached) and every tensor that does not travel
    frozen (`requires_grad` off)."""
    module = _skeleton(spec)
    if spec.fine_tune is not None:
        if spec.base is None:
            raise ModelSpecError(
                f"The pretrained model {spec.fine_tune.base_cid} is not loaded.",
                hint="Attach its tensors first: spec.with_base(tensors).",
            )
        load_base(module, spec.base)
    return module


def _skeleton(spec: ModelSpec) -> nn.Sequential:
    module = build_network(spec.example_shape, spec.architecture)
    if spec.fine_tune is None:
        return module
    return adapt(module, spec.fine_tune, spec.adapted_layers)


@functools.lru_cache(maxsize=64)
def param_shapes(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    """The name and shape of every tensor that travels (updates, round models): all of the
    model's, or a fine-tuning model's trained ones. Built on the meta device, allocating
    nothing."""
    with torch.device("meta"):
        module = _skeleton(spec)
    return {name: tuple(t.shape) for name, t in _travelling(module).items()}


@functools.lru_cache(maxsize=64)
def base_shapes(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    """The tensors of the spec's network without adapters: what a pretrained model for it
    holds (and all that travels when it is not fine-tuned)."""
    with torch.device("meta"):
        module = build_network(spec.example_shape, spec.architecture)
    return {name: tuple(t.shape) for name, t in module.state_dict().items()}


@dataclass(frozen=True)
class UpdateSize:
    """What one update of a model carries, against what it would carry if the whole
    model trained: bytes as they travel (float16 safetensors) and parameters."""

    update_bytes: int
    full_bytes: int
    trained: int  # parameters in an update
    total: int  # parameters of the whole model (its network, without adapters)

    @property
    def share(self) -> float:
        """update_bytes / full_bytes."""
        return self.update_bytes / self.full_bytes

    def describe(self) -> str:
        return (f"each update carries {self.update_bytes / 1000:,.1f} KB of the model's "
                f"{self.full_bytes / 1000:,.1f} KB ({100 * self.share:.1f}%): "
                f"{self.trained:,} of {self.total:,} parameters")  # fmt: skip


def update_size(spec: ModelSpec) -> UpdateSize:
    """The encoded size of one of the model's updates (the tensors `param_shapes` names, at
    half precision, as participants send them and aggregators hand out the change of a
    round's model), and of an update of every tensor of the network."""
    def encoded(shapes: dict[str, tuple[int, ...]]) -> int:
        return len(encode_half({n: np.zeros(s, np.float32) for n, s in shapes.items()}))

    trained, full = param_shapes(spec), base_shapes(spec)
    return UpdateSize(encoded(trained), encoded(full), sum(math.prod(s) for s in trained.values()),
                      sum(math.prod(s) for s in full.values()))  # fmt: skip


def init_params(spec: ModelSpec, seed: int) -> Params:
    """The first model: drawn from `seed`; for fine-tuning, the trained tensors at their
    pretrained values and the adapters' A from `seed` (B zero), so that it computes what
    the pretrained model does."""
    torch.manual_seed(seed)
    return module_params(build_model(spec))


def module_params(module: nn.Module) -> Params:
    """The module's tensors that travel: all but the frozen ones."""
    return {
        name: t.detach().cpu().numpy().astype(np.float32, copy=True)
        for name, t in _travelling(module).items()
    }


def _travelling(module: nn.Module) -> dict[str, torch.Tensor]:
    frozen = {name for name, p in module.named_parameters() if not p.requires_grad}
    return {name: t for name, t in module.state_dict().items() if name not in frozen}


def load_params(module: nn.Module, params: Params) -> None:
    """Loads the tensors that travel; a fine-tuning module keeps its frozen ones."""
    frozen = {name for name, p in module.named_parameters() if not p.requires_grad}
    missing, unexpected = module.load_state_dict(
        {name: torch.from_numpy(np.array(v, dtype=np.float32)) for name, v in params.items()},
        strict=not frozen,
    )
    if unexpected or set(missing) - frozen:
        raise ModelSpecError(
            f"The model's tensors do not fit its specification (missing {sorted(missing)}, "
            f"unexpected {sorted(unexpected)})."
        )
