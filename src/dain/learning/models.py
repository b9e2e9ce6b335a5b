"""Model specifications and their PyTorch modules; their parameters as `Params`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from dain.learning.errors import ModelSpecError
from dain.learning.params import Params

KINDS = ("logreg", "mlp")


@dataclass(frozen=True)
class ModelSpec:
    """What to train: logistic regression, or an MLP with `hidden` layer widths.

    `feature_mean` / `feature_scale` standardize inputs identically on every node; the
    requester publishes them in the job spec (computed on its own evaluation data).
    """

    kind: str
    num_features: int
    num_classes: int
    hidden: tuple[int, ...] = ()
    feature_mean: tuple[float, ...] = field(default=(), repr=False)
    feature_scale: tuple[float, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ModelSpecError(f"Unknown model kind '{self.kind}'.", hint=f"Use one of {KINDS}.")
        if self.num_features < 1 or self.num_classes < 1:
            raise ModelSpecError(
                "A model needs at least one feature, and one output (regression) or two classes."
            )
        if self.kind == "logreg" and self.hidden:
            raise ModelSpecError("Logistic regression has no hidden layers.")
        if self.kind == "mlp" and (not self.hidden or min(self.hidden) < 1):
            raise ModelSpecError("An MLP needs at least one hidden layer of positive width.")
        for stats in (self.feature_mean, self.feature_scale):
            if stats and len(stats) != self.num_features:
                raise ModelSpecError("Feature statistics must have one value per feature.")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "num_features": self.num_features,
            "num_classes": self.num_classes,
            "hidden": list(self.hidden),
            "feature_mean": list(self.feature_mean),
            "feature_scale": list(self.feature_scale),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ModelSpec:
        try:
            return cls(
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

    def standardize(self, x: np.ndarray) -> np.ndarray:
        if not self.feature_mean:
            return x.astype(np.float32, copy=False)
        mean = np.asarray(self.feature_mean, dtype=np.float32)
        scale = np.asarray(self.feature_scale, dtype=np.float32)
        return (x - mean) / scale


def feature_statistics(x: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and scale per feature; a constant feature gets scale 1."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    return tuple(float(v) for v in mean), tuple(float(v) for v in scale)


def build_model(spec: ModelSpec) -> nn.Sequential:
    widths = [spec.num_features, *spec.hidden, spec.num_classes]
    layers: list[nn.Module] = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def param_shapes(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    widths = [spec.num_features, *spec.hidden, spec.num_classes]
    shapes: dict[str, tuple[int, ...]] = {}
    for i in range(len(widths) - 1):
        index = 2 * i  # Linear layers sit at even indices, ReLUs between them
        shapes[f"{index}.weight"] = (widths[i + 1], widths[i])
        shapes[f"{index}.bias"] = (widths[i + 1],)
    return shapes


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
