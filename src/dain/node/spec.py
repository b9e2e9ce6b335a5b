"""The job specification document: what a job trains and how. Its content id is on chain."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dain.learning import STRATEGIES, ModelSpec, TrainConfig
from dain.node.errors import ProtocolError
from dain.storage import canonical_json


@dataclass(frozen=True)
class JobSpec:
    title: str
    model: ModelSpec
    train: TrainConfig
    strategy: str = "fedavg"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ProtocolError(
                f"Unknown strategy '{self.strategy}'.", hint=f"Use one of {sorted(STRATEGIES)}."
            )

    def to_bytes(self) -> bytes:
        return canonical_json(
            {
                "title": self.title,
                "model": self.model.to_dict(),
                "train": self.train.to_dict(),
                "strategy": self.strategy,
                "seed": self.seed,
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> JobSpec:
        try:
            raw: dict[str, Any] = json.loads(data)
            return cls(
                title=str(raw["title"]),
                model=ModelSpec.from_dict(raw["model"]),
                train=TrainConfig.from_dict(raw["train"]),
                strategy=str(raw["strategy"]),
                seed=int(raw["seed"]),
            )
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"The job specification is malformed ({exc!r}).") from exc
