"""A job's page, live: a server-sent-events stream that looks at the chain and the node's
metrics about once a second and, when something changed (a round recorded, a metric kept,
the status moved), sends the page's parts again as the server renders them.

Each look runs in the server's worker threads (`run_in_threadpool`), so a slow chain never
holds up the node's event loop, and no thread outlives its look. The stream ends when the
client goes away, when the job has ended (after a final "end" event), and after a bounded
lifetime, after which the browser's EventSource connects again."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from dain.errors import DainError
from dain.web.jobs_view import JobView

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Live:
    poll_seconds: float = 1.0  # between looks at the chain
    lifetime_seconds: float = 300.0  # then the stream ends and the browser reconnects
    retry_ms: int = 3000  # how long the browser waits before it reconnects


def sse(event: str, data: dict[str, Any]) -> str:
    """One event in the text/event-stream format (JSON has no raw newlines)."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def job_events(
    request: Request, look: Callable[[], JobView], render: Callable[[JobView], dict[str, str]],
    live: Live = Live(),
) -> AsyncIterator[str]:  # fmt: skip
    """The stream of one job's changes: `look` reads the job (in a worker thread), `render`
    turns it into the page's parts by element id."""
    ends_at = time.monotonic() + live.lifetime_seconds
    seen: tuple[object, ...] | None = None
    trouble = ""
    yield f"retry: {live.retry_ms}\n\n"
    while not await request.is_disconnected():
        try:
            view = await run_in_threadpool(look)
            changed = view.fingerprint() != seen
            parts = await run_in_threadpool(render, view) if changed else {}
        except Exception as exc:  # the chain out of reach a moment: say so, look again
            message = exc.message if isinstance(exc, DainError) else "the chain cannot be read"
            if not isinstance(exc, DainError):
                log.warning("job events: %s", exc, exc_info=True)
            if message != trouble:
                trouble = message
                yield sse("problem", {"message": f"{message}; trying again."})
        else:
            trouble = ""
            if changed:
                seen = view.fingerprint()
                yield sse("end" if view.ended else "update", {
                    "status": view.status, "round": view.job.current_round,
                    "rounds": view.job.rounds, "fragments": parts,
                })  # fmt: skip
            if view.ended:
                return
        if time.monotonic() >= ends_at:
            return
        await asyncio.sleep(live.poll_seconds)
