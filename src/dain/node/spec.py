"""The job specification document: what a job trains and how. Its content id is on chain."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from dain.data import CsvSchema
from dain.errors import DainError
from dain.learning import (
    STRATEGY_NAMES,
    LearningError,
    ModelSpec,
    PrivacyLevel,
    PrivacySpec,
    TrainConfig,
    make_strategy,
)
from dain.learning.secagg import MIN_DEGREE, MIN_THRESHOLD, majority_threshold
from dain.node.errors import ProtocolError
from dain.storage import canonical_json


@dataclass(frozen=True)
class JobSpec:
    title: str
    model: ModelSpec
    train: TrainConfig
    strategy: str = "fedavg"
    seed: int = 0
    privacy: PrivacySpec = field(default_factory=PrivacySpec)
    secagg: SecAggSettings = field(default_factory=lambda: SecAggSettings())
    strategy_options: dict[str, float] = field(default_factory=dict)
    # the columns owners' files must have (feature order is the model's input order)
    input: CsvSchema | None = None
    min_participants: int = 1  # a plain round is recorded with at least this many updates

    def __post_init__(self) -> None:
        if not 1 <= self.min_participants <= 256:
            raise ProtocolError(
                f"min_participants must be 1 to 256, not {self.min_participants}."
            )
        try:
            make_strategy(self.strategy, **self.strategy_options)
        except (LearningError, TypeError, ValueError) as exc:
            raise ProtocolError(
                f"The strategy '{self.strategy}' cannot be set up: {exc}",
                hint=f"Strategies: {', '.join(STRATEGY_NAMES)}.",
            ) from exc

    def check_terms(self, secure_aggregation: bool) -> None:
        """Refuses a spec the job's on-chain terms cannot run."""
        strategy = make_strategy(self.strategy, **self.strategy_options)
        if secure_aggregation and strategy.needs_individual_updates:
            raise ProtocolError(
                f"The strategy '{self.strategy}' looks at each client's update, which secure "
                "aggregation hides from the aggregator.",
                hint="Use fedavg, fedavgm, fedprox, fedadagrad, fedadam or fedyogi with secure "
                "aggregation, or run this strategy without it.",
            )
        if self.privacy.level == PrivacyLevel.CLIENT and not secure_aggregation:
            raise ProtocolError(
                "Client-level privacy needs secure aggregation: without it the aggregator "
                "sees each update with only its small share of the noise.",
                hint="Propose the job with secure aggregation, or use record-level privacy.",
            )

    def to_bytes(self) -> bytes:
        return canonical_json(
            {
                "title": self.title,
                "model": self.model.to_dict(),
                "train": self.train.to_dict(),
                "strategy": self.strategy,
                "seed": self.seed,
                # written only when used, so specs made before them keep their content ids
                **({"privacy": self.privacy.to_dict()} if self.privacy.private else {}),
                **({"strategy_options": self.strategy_options} if self.strategy_options else {}),
                **({"secagg": self.secagg.to_dict()} if self.secagg != SecAggSettings() else {}),
                **({"input": self.input.to_dict()} if self.input else {}),
                **(
                    {"min_participants": self.min_participants}
                    if self.min_participants != 1
                    else {}
                ),
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
                privacy=PrivacySpec.from_dict(raw.get("privacy", {})),
                secagg=SecAggSettings.from_dict(raw.get("secagg", {})),
                strategy_options={
                    str(k): float(v) for k, v in raw.get("strategy_options", {}).items()
                },
                input=CsvSchema.from_dict(raw["input"]) if "input" in raw else None,
                min_participants=int(raw.get("min_participants", 1)),
            )
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"The job specification is malformed ({exc!r}).") from exc
        except ProtocolError:
            raise
        except DainError as exc:  # a model, input or privacy setting no node can run
            raise ProtocolError(f"The job specification is malformed: {exc}") from exc


@dataclass(frozen=True)
class SecAggSettings:
    """How a job's secure rounds run. Stage deadlines are fractions of the round window:
    key sharing closes at `share_by`, masked inputs at `input_by`, the survivors' vouchers
    for the survivor set (the consistency check) at `check_by`, and a round that still
    cannot be unmasked at `unmask_by` is aborted.

    `degree` and `threshold` are floors a job may raise, never lower (the reasons are in
    `dain.learning.secagg.setup`): the threshold is at least MIN_THRESHOLD and a strict
    majority of each neighbourhood's degree + 1 holders, the degree at least about
    2 log2(n) + 2. What can be checked without knowing n is refused here; at round time the
    floors for that round's n raise whatever the spec asked."""

    value_range: float = 2.0**20  # widest fixed-point range; the round's own is narrower
    degree: int = 0  # neighbours per client; 0: about 2 log2(n) + 2, the floor
    threshold: int = 0  # shares needed per secret; 0: a majority of each neighbourhood
    share_by: float = 0.2
    input_by: float = 0.35
    check_by: float = 0.0  # 0: halfway between input_by and unmask_by
    unmask_by: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.share_by < self.input_by < self.check_deadline < self.unmask_by <= 1:
            raise ProtocolError("Secure-aggregation deadlines must rise within the round window.")
        if not self.value_range > 0 or self.degree < 0 or self.threshold < 0:
            raise ProtocolError("Secure-aggregation settings must be positive.")
        if 0 < self.threshold < MIN_THRESHOLD:
            raise ProtocolError(
                f"A secure-aggregation threshold of {self.threshold} is below the floor of "
                f"{MIN_THRESHOLD}: that few colluding clients could rebuild a secret.",
                hint=f"Leave it at 0 (a majority of each neighbourhood) or ask {MIN_THRESHOLD} "
                "or more.",
            )
        if self.degree and (self.degree < MIN_DEGREE or self.degree % 2):
            raise ProtocolError(
                f"A SecAgg+ degree of {self.degree} is below the floor of {MIN_DEGREE} or odd.",
                hint=f"Leave it at 0 (about 2 log2(n) + 2) or ask an even {MIN_DEGREE} or more.",
            )
        if self.degree and self.threshold and self.threshold < majority_threshold(self.degree):
            raise ProtocolError(
                f"A threshold of {self.threshold} is below the floor of "
                f"{majority_threshold(self.degree)} for {self.degree} neighbours: a strict "
                f"majority of the {self.degree + 1} holders of each secret, so that an "
                "aggregator cannot gather shares of both a client's secrets.",
                hint="Raise the threshold, or leave it at 0.",
            )
        if self.degree and self.threshold > self.degree + 1:
            raise ProtocolError(
                f"A threshold of {self.threshold} exceeds the {self.degree + 1} holders of "
                "each secret: no round could ever be unmasked."
            )

    @property
    def check_deadline(self) -> float:
        """When the consistency check closes (a fraction of the round window)."""
        return self.check_by or (self.input_by + self.unmask_by) / 2

    def to_dict(self) -> dict[str, float | int]:
        found: dict[str, float | int] = {
            "value_range": self.value_range, "degree": self.degree, "threshold": self.threshold,
            "share_by": self.share_by, "input_by": self.input_by, "unmask_by": self.unmask_by,
        }  # fmt: skip
        # written only when set, so specs made before it keep their content ids
        if self.check_by:
            found["check_by"] = self.check_by
        return found

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SecAggSettings:
        defaults = cls()
        return cls(
            float(raw.get("value_range", defaults.value_range)),
            int(raw.get("degree", defaults.degree)),
            int(raw.get("threshold", defaults.threshold)),
            float(raw.get("share_by", defaults.share_by)),
            float(raw.get("input_by", defaults.input_by)),
            float(raw.get("check_by", defaults.check_by)),
            float(raw.get("unmask_by", defaults.unmask_by)),
        )
