"""Local training and evaluation: pure functions of (spec, params, data, config, seed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional

from dain.learning.errors import LearningError
from dain.learning.models import ModelSpec, build_model, load_params, module_params
from dain.learning.params import Params


@dataclass(frozen=True)
class TrainConfig:
    """Local training's settings. Class weights scale each row's loss by its class: rare
    classes (fraud among card payments) would otherwise barely move the model. Either fixed
    weights in the job's class order, or `balance_classes`: each client weighs its own rows'
    classes by n / (classes x count), as scikit-learn's "balanced", on data it alone sees."""

    learning_rate: float = 0.1
    epochs: int = 1
    batch_size: int = 16
    momentum: float = 0.0
    class_weights: tuple[float, ...] = ()
    balance_classes: bool = False

    def __post_init__(self) -> None:
        if self.class_weights and self.balance_classes:
            raise LearningError("Give class weights, or balance classes, not both.")
        if self.class_weights and min(self.class_weights) < 0:
            raise LearningError("Class weights must not be negative.")

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "learning_rate": self.learning_rate,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "momentum": self.momentum,
        }
        # written only when used, so specs made before them keep their content ids
        if self.class_weights:
            found["class_weights"] = list(self.class_weights)
        if self.balance_classes:
            found["balance_classes"] = True
        return found

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TrainConfig:
        return cls(
            learning_rate=float(raw["learning_rate"]),
            epochs=int(raw["epochs"]),
            batch_size=int(raw["batch_size"]),
            momentum=float(raw.get("momentum", 0.0)),
            class_weights=tuple(float(w) for w in raw.get("class_weights", ())),
            balance_classes=bool(raw.get("balance_classes", False)),
        )

    def weights_for(self, spec: ModelSpec, y: np.ndarray) -> torch.Tensor | None:
        """Each class's loss weight on these rows, or None (all 1)."""
        if spec.is_regression or not (self.class_weights or self.balance_classes):
            return None
        if self.class_weights:
            if len(self.class_weights) != spec.num_classes:
                raise LearningError(f"The job gives {len(self.class_weights)} class weights "
                                    f"for {spec.num_classes} classes.")  # fmt: skip
            return torch.tensor(self.class_weights, dtype=torch.float32)
        counts = np.bincount(y.astype(np.int64), minlength=spec.num_classes).astype(np.float64)
        present = counts > 0
        weights = np.zeros(spec.num_classes)
        weights[present] = len(y) / (present.sum() * counts[present])
        return torch.from_numpy(weights.astype(np.float32))


@dataclass(frozen=True)
class LocalResult:
    params: Params
    num_examples: int
    mean_loss: float


def train_local(
    spec: ModelSpec,
    params: Params,
    x: np.ndarray,
    y: np.ndarray,
    config: TrainConfig,
    seed: int,
    *,
    proximal_mu: float = 0.0,
) -> LocalResult:
    """Mini-batch SGD from `params` on (x, y); the seed fixes the batch order. With
    `proximal_mu` (FedProx) the loss adds mu/2 ||w - params||^2, keeping clients near
    the global model on skewed data."""
    spec.check_rows(x)
    model = build_model(spec)
    load_params(model, params)
    anchor = [p.detach().clone() for p in model.parameters()] if proximal_mu else []
    inputs = torch.from_numpy(spec.standardize(x))
    labels = targets(spec, y)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=config.learning_rate, momentum=config.momentum
    )
    weights = config.weights_for(spec, y)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    model.train()
    for _ in range(config.epochs):
        order = torch.randperm(len(labels), generator=generator)
        for start in range(0, len(labels), config.batch_size):
            batch = order[start : start + config.batch_size]
            optimizer.zero_grad()
            loss = row_losses(spec, model(inputs[batch]), labels[batch], weights).mean()
            if proximal_mu:
                pairs = zip(model.parameters(), anchor, strict=True)
                drift = sum(((p - a) ** 2).sum() for p, a in pairs)
                loss = loss + proximal_mu / 2 * drift
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return LocalResult(module_params(model), len(labels), float(np.mean(losses)) if losses else 0.0)


def targets(spec: ModelSpec, y: np.ndarray) -> torch.Tensor:
    """Labels as the loss wants them: class indices, or a column of standardized floats."""
    if spec.is_regression:
        scaled = (y.astype(np.float64) - spec.target_mean) / spec.target_scale
        return torch.from_numpy(scaled.astype(np.float32).reshape(-1, 1))
    return torch.from_numpy(y.astype(np.int64))


def predicted_values(spec: ModelSpec, out: np.ndarray) -> np.ndarray:
    """A regression model's outputs in the target's own unit."""
    return out * spec.target_scale + spec.target_mean


def row_losses(
    spec: ModelSpec, out: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Each row's loss (squared error, or cross-entropy scaled by its class's weight). The
    batch's loss is their plain mean, so that DP-SGD's per-record clipping sees each row's
    own share."""
    if spec.is_regression:
        return ((out - labels) ** 2).mean(dim=1)
    return functional.cross_entropy(out, labels, weight=weights, reduction="none")


def predict(spec: ModelSpec, params: Params, x: np.ndarray) -> np.ndarray:
    """Class indices, or predicted values for a regression model."""
    spec.check_rows(x)
    model = build_model(spec)
    load_params(model, params)
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(spec.standardize(x)))
    if spec.is_regression:
        return predicted_values(spec, out[:, 0].numpy())
    return out.argmax(dim=1).numpy()


def accuracy(spec: ModelSpec, params: Params, x: np.ndarray, y: np.ndarray) -> float:
    """The share of rows classified right; for a regression model, R^2."""
    predicted = predict(spec, params, x)
    if spec.is_regression:
        residual = float(np.sum((y - predicted) ** 2))
        total = float(np.sum((y - y.mean()) ** 2)) or 1.0
        return 1.0 - residual / total
    return float((predicted == y).mean())


def warm_up() -> None:
    """PyTorch loads its compiler stack (over a second) when the first optimizer is made;
    a node does it at start so its first round is as quick as the rest."""
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
