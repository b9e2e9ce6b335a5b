"""A job's live stream on a real server (uvicorn on 127.0.0.1): an event arrives after a
round is recorded in another thread, a final one when the job completes, and then the
stream ends; it also ends after its lifetime and when the client goes away, leaving no
request running on the server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from dain.web import PREFIX
from dain.web.jobs_live import Live
from tests.web.conftest import TOKEN, OwnerNet, owner_net
from tests.web.jobs_net import app_for, serving


@contextmanager
def _logged_in(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=30) as client:
        assert client.post(f"{PREFIX}/login", data={"token": TOKEN}).status_code == 303
        yield client


def _events(lines: Iterator[str]) -> Iterator[tuple[str, dict]]:
    """(event, data) pairs from a text/event-stream's lines."""
    event, data = "", ""
    for line in lines:
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")
        elif not line and event:
            yield event, json.loads(data)
            event, data = "", ""


def _in_thread(work: object) -> threading.Thread:
    assert callable(work)
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def test_the_stream_sends_each_recorded_round_then_the_end_and_closes() -> None:
    n: OwnerNet = owner_net()
    job = n.running_job
    app = app_for(n.requester, Live(poll_seconds=0.2, lifetime_seconds=120))

    events_path = f"{PREFIX}/jobs/{job}/events"
    with (
        serving(app) as (base, _),
        _logged_in(base) as client,
        client.stream("GET", events_path) as answer,
    ):
        events = _events(answer.iter_lines())
        first = next(events)
        recording = _in_thread(lambda: n.net.run_round(job, 2))
        second = next(events)
        recording.join(timeout=60)
        completing = _in_thread(lambda: n.requester.ledger.jobs.complete(job))
        last = next(events)
        completing.join(timeout=60)
        rest = list(events)  # the server closes the stream after the end

    assert answer.headers["content-type"].startswith("text/event-stream")
    assert first[0] == "update" and first[1]["round"] == 1 and first[1]["status"] == "running"
    assert second[0] == "update" and second[1]["round"] == 2
    rows = second[1]["fragments"]["job-rounds"]
    assert rows.count("<tr>") == 2 and "<svg" in second[1]["fragments"]["job-epsilon-chart"]
    assert f"{PREFIX}/jobs/{job}/complete" in second[1]["fragments"]["job-actions"]
    assert last[0] == "end" and last[1]["status"] == "completed"
    assert rest == []


def test_the_stream_ends_after_its_lifetime(shared: OwnerNet) -> None:
    app = app_for(shared.requester, Live(poll_seconds=0.1, lifetime_seconds=1.0, retry_ms=500))

    with serving(app) as (base, _), _logged_in(base) as client:
        began = time.monotonic()
        with client.stream("GET", f"{PREFIX}/jobs/{shared.running_job}/events") as answer:
            lines = list(answer.iter_lines())  # ends by itself: nothing changes on chain
        lasted = time.monotonic() - began

    assert lines[0] == "retry: 500"  # the browser reconnects after this long
    assert sum(line == "event: update" for line in lines) == 1  # the state, sent once
    assert 1.0 <= lasted < 10


def test_a_client_that_leaves_leaves_nothing_running(shared: OwnerNet) -> None:
    app = app_for(shared.requester, Live(poll_seconds=0.1, lifetime_seconds=600))
    threads = threading.active_count()

    with serving(app) as (base, server), _logged_in(base) as client:
        for _ in range(5):  # clients that leave after the first event
            with client.stream("GET", f"{PREFIX}/jobs/{shared.running_job}/events") as answer:
                next(_events(answer.iter_lines()))
        deadline = time.monotonic() + 10
        while server.server_state.tasks and time.monotonic() < deadline:
            time.sleep(0.05)
        running = len(server.server_state.tasks)
        during = threading.active_count()

    assert running == 0  # every stream's request has finished on the server
    assert during <= threads + 1 + 40  # the server's thread, and anyio's bounded pool at most
