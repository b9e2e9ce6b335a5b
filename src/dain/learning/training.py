"""Local training and evaluation: pure functions of (spec, params, data, config, seed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from dain.learning.models import ModelSpec, build_model, load_params, module_params
from dain.learning.params import Params


@dataclass(frozen=True)
class TrainConfig:
    learning_rate: float = 0.1
    epochs: int = 1
    batch_size: int = 16
    momentum: float = 0.0

    def to_dict(self) -> dict[str, float | int]:
        return {
            "learning_rate": self.learning_rate,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "momentum": self.momentum,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, float | int]) -> TrainConfig:
        return cls(
            learning_rate=float(raw["learning_rate"]),
            epochs=int(raw["epochs"]),
            batch_size=int(raw["batch_size"]),
            momentum=float(raw.get("momentum", 0.0)),
        )


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
    model = build_model(spec)
    load_params(model, params)
    anchor = [p.detach().clone() for p in model.parameters()] if proximal_mu else []
    inputs = torch.from_numpy(spec.standardize(x))
    labels = targets(spec, y)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=config.learning_rate, momentum=config.momentum
    )
    loss_fn = loss_for(spec)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    model.train()
    for _ in range(config.epochs):
        order = torch.randperm(len(labels), generator=generator)
        for start in range(0, len(labels), config.batch_size):
            batch = order[start : start + config.batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(inputs[batch]), labels[batch])
            if proximal_mu:
                pairs = zip(model.parameters(), anchor, strict=True)
                drift = sum(((p - a) ** 2).sum() for p, a in pairs)
                loss = loss + proximal_mu / 2 * drift
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return LocalResult(module_params(model), len(labels), float(np.mean(losses)) if losses else 0.0)


def targets(spec: ModelSpec, y: np.ndarray) -> torch.Tensor:
    """Labels as the loss wants them: class indices, or a column of floats."""
    if spec.is_regression:
        return torch.from_numpy(y.astype(np.float32).reshape(-1, 1))
    return torch.from_numpy(y.astype(np.int64))


def loss_for(spec: ModelSpec) -> nn.Module:
    return nn.MSELoss() if spec.is_regression else nn.CrossEntropyLoss()


def predict(spec: ModelSpec, params: Params, x: np.ndarray) -> np.ndarray:
    """Class indices, or predicted values for a regression model."""
    model = build_model(spec)
    load_params(model, params)
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(spec.standardize(x)))
    return out[:, 0].numpy() if spec.is_regression else out.argmax(dim=1).numpy()


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
