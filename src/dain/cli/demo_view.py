"""Rich rendering of the demo story: sections, tables and a live progress bar."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dain.devnet import RoundReport, StoryResult


class RichReporter:
    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress: Progress | None = None
        self._task: int | None = None

    def __enter__(self) -> RichReporter:
        return self

    def __exit__(
        self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop_progress()

    def section(self, title: str) -> None:
        self._stop_progress()
        self.console.rule(f"[bold]{title}")

    def say(self, text: str, style: str = "") -> None:
        target = self._progress.console if self._progress else self.console
        target.print(text, style=style or None, highlight=False)

    def table(self, title: str, columns: list[str], rows: list[list[str]]) -> None:
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        self.console.print(table)

    def rounds_started(self, total: int) -> None:
        self._progress = Progress(
            TextColumn("training"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
        )
        self._progress.start()
        self._task = self._progress.add_task("rounds", total=total)

    def round_done(self, report: RoundReport) -> None:
        self.say(
            f"round {report.round:>2}  accuracy {report.accuracy:.3f}  "
            f"aggregator {report.aggregator:<13} trained: {', '.join(report.participants)}"
        )
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)

    def _stop_progress(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def summary(self, result: StoryResult) -> None:
        gap = (result.centralized_accuracy - result.federated_accuracy) * 100
        self.console.print(
            Panel(
                f"Federated accuracy {result.federated_accuracy:.3f} vs "
                f"{result.centralized_accuracy:.3f} with all data pooled "
                f"(a gap of {gap:.1f} points), and no record left any hospital.\n"
                f"{len(result.data_used_events)} uses recorded on chain; "
                f"{sum(result.rewards.values()):.0f} of {result.reward_pool:.0f} DAIN paid out; "
                f"finished in {result.elapsed_s:.1f} s.",
                title="dain demo",
            )
        )
