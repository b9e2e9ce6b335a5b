"""`dain node status` for people: what a node's /status answer says, in a panel and a table
(times as dates and ages, addresses and asset ids shortened, counters with their meaning).
`--json` prints the answer itself, for programs."""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table

_LONG_HEX = re.compile(r"\b(?:0x)?([0-9a-fA-F]{12})[0-9a-fA-F]{20,}\b")


def short_address(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}" if len(address) == 42 else address


def shorten_ids(text: str) -> str:
    """Asset ids (64 hex digits) in a message, cut to their first 12 digits."""
    return _LONG_HEX.sub(lambda m: f"0x{m.group(1)}…", text)


def chain_time(seconds: float | None, now: float | None = None) -> str:
    """The chain's time as an ISO date, and how far it is from this computer's clock."""
    if seconds is None:
        return "unknown (the chain cannot be read)"
    when = dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="seconds")
    lag = (time.time() if now is None else now) - seconds
    if abs(lag) < 1:
        return f"{when.replace('+00:00', 'Z')} (now)"
    side = "ago" if lag > 0 else "ahead of this computer"
    return f"{when.replace('+00:00', 'Z')} ({_duration(abs(lag))} {side})"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _bytes(count: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024  # type: ignore[assignment]
    return f"{count:.1f} GiB"


def render(data: dict[str, Any], console: Console) -> None:
    me = str(data.get("address", ""))
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    runner = data.get("runner", "not running")
    since = data.get("seconds_since_step")
    step = f" (last step {since:.1f} s ago)" if isinstance(since, int | float) else ""
    assets = [shorten_ids(str(a)) for a in data.get("assets", [])]
    listed = f"{len(assets)}: {', '.join(assets)}" if assets else "none registered here"
    delivered, recorded = data.get("updates_delivered", 0), data.get("deliveries_recorded", 0)
    rows = [
        ("address", me),
        ("endpoint", str(data.get("endpoint", ""))),
        ("runner", f"{runner}{step}"),
        ("chain time", chain_time(data.get("chain_time"))),
        ("assets", listed),
        ("training now", shorten_ids(str(data.get("training") or "")) or "nothing"),
        ("updates delivered", f"{delivered} since the node started, {recorded} in all"),
        ("rounds aggregated", f"{data.get('rounds_aggregated', 0)} since the node started"),
        ("sent", _bytes(int(data.get("bytes_sent", 0)))),
    ]
    if data.get("last_error"):
        rows.append(("last error", shorten_ids(str(data["last_error"]))))
    for name, value in rows:
        facts.add_row(name, value)
    parts: list[Any] = [facts]
    jobs = data.get("jobs") or {}
    if jobs:
        table = Table(title="Jobs", title_justify="left", expand=False)
        for column in ("job", "round", "aggregator", "assets taking part", "note"):
            table.add_column(column)
        for job_id, job in sorted(jobs.items(), key=lambda item: int(item[0])):
            aggregator = str(job.get("aggregator", ""))
            who = "this node" if aggregator == me else short_address(aggregator)
            table.add_row(str(job_id), str(job.get("round", "")), who,
                          str(job.get("assets_taking_part", "")),
                          shorten_ids(str(job.get("error", ""))))  # fmt: skip
        parts.append(table)
    else:
        parts.append("No jobs yet: the node takes part in the jobs its assets are enrolled in.")
    console.print(Panel(Group(*parts), title=f"Node {data.get('node')}", title_align="left"))
