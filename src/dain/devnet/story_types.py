"""The demo story's settings, what it found, and how it tells what happens: shared by the
story on one process (`story`) and the story across node processes (`cluster_story`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class StoryConfig:
    rounds: int = 12
    revoke_after: int = 6  # this many rounds in, one hospital revokes consent
    reward_pool: int = 1_000  # whole tokens
    seed: int = 7
    shares: tuple[float, ...] = (0.34, 0.22, 0.26, 0.18)  # each hospital's part of the data
    learning_rate: float = 0.1
    batch_size: int = 16
    secure: bool = False  # secure aggregation: the aggregator sees only masked updates
    epsilon: float | None = None  # record-level differential privacy at this epsilon


@dataclass
class RoundReport:
    round: int
    accuracy: float
    aggregator: str
    participants: list[str]
    block: int


@dataclass
class StoryResult:
    federated_accuracy: float = 0.0
    centralized_accuracy: float = 0.0
    local_accuracies: dict[str, float] = field(default_factory=dict)
    rounds: list[RoundReport] = field(default_factory=list)
    data_used_events: list[dict[str, Any]] = field(default_factory=list)
    rewards: dict[str, float] = field(default_factory=dict)  # whole tokens, for people
    rewards_base_units: dict[str, str] = field(default_factory=dict)  # exact, as on chain
    reward_pool: float = 0.0
    revoked_asset: dict[str, Any] = field(default_factory=dict)
    excluded_asset: dict[str, Any] = field(default_factory=dict)
    job_id: int = 0
    elapsed_s: float = 0.0
    secure_aggregation: bool = False
    epsilon_spent: float | None = None  # the job's privacy loss on chain, when private

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Reporter(Protocol):
    def section(self, title: str) -> None: ...

    def say(self, text: str, style: str = "") -> None: ...

    def table(self, title: str, columns: list[str], rows: list[list[str]]) -> None: ...

    def rounds_started(self, total: int) -> None: ...

    def round_done(self, report: RoundReport) -> None: ...


class SilentReporter:
    def section(self, title: str) -> None:
        pass

    def say(self, text: str, style: str = "") -> None:
        pass

    def table(self, title: str, columns: list[str], rows: list[list[str]]) -> None:
        pass

    def rounds_started(self, total: int) -> None:
        pass

    def round_done(self, report: RoundReport) -> None:
        pass
