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
from dain.learning.network import build_network
from dain.learning.params import Params

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
        return found

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ModelSpec:
        try:
            target = {"target_mean": float(raw.get("target_mean", 0.0)),
                      "target_scale": float(raw.get("target_scale", 1.0))}  # fmt: skip
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
        except (KeyError, TypeError, ValueError) as exc:
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
    return build_network(spec.example_shape, spec.architecture)


@functools.lru_cache(maxsize=64)
def param_shapes(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    """Every tensor's name and shape, without allocating them (built on the meta device)."""
    with torch.device("meta"):
        module = build_model(spec)
    return {name: tuple(t.shape) for name, t in module.state_dict().items()}


def init_params(spec: ModelSpec, seed: int) -> Params:
    torch.manual_seed(seed)
    return module_params(build_model(spec))


def module_params(module: nn.Module) -> Params:
    return {
        name: t.detach().cpu().numpy().astype(np.float32, copy=True)
        for name, t in module.state_dict().items()
    }


def load_params(module: nn.Module, params: Params) -> None:
    module.load_state_dict(
        {name: torch.from_numpy(np.array(v, dtype=np.float32)) for name, v in params.items()}
    )
