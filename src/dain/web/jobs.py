"""The "Jobs" pages: the jobs on the network; one job's terms, rounds, metrics and privacy
spent, with its curves drawn on the server and kept live by a server-sent-events stream;
its model card and model to download; and, for the job's requester, starting and
completing it (after a page saying what that does), with the ledger calls `dain job start`
and `dain job complete` make. Chain calls block, so they run in worker threads."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from markupsafe import escape
from starlette.concurrency import run_in_threadpool

from dain.errors import ConfigError, DainError
from dain.ledger import JobInfo
from dain.node import render_card
from dain.web.access import CSRF_FIELD
from dain.web.jobs_files import current_model, model_card
from dain.web.jobs_live import Live, job_events
from dain.web.jobs_view import LISTED, JobView, UnknownJob, job_id_of, job_list, job_view
from dain.web.login import must_log_in
from dain.web.site import HEADERS, Page, Site

PAGE = Page("/jobs", "Jobs")
ACTIONS = ("start", "complete")


def router(site: Site, live: Live | None = None) -> APIRouter:
    routes = APIRouter()
    node = site.node
    site.pages.append(PAGE)
    where = site.url(PAGE.path)
    live = live or Live()

    async def job_of(request: Request, text: str) -> int | Response:
        """The job a URL names, or the page to show instead (login, unknown job)."""
        if (login := must_log_in(site, request)) is not None:
            return login
        try:
            return await run_in_threadpool(job_id_of, node, text, where)
        except DainError as exc:
            return site.error(request, exc, _status(exc))

    @routes.get(PAGE.path, include_in_schema=False)
    async def listing(request: Request) -> Response:
        if (login := must_log_in(site, request)) is not None:
            return login
        try:
            jobs = await run_in_threadpool(job_list, node)
        except DainError as exc:
            return site.error(request, exc)
        return site.render(request, "jobs.html", jobs=jobs, limit=LISTED)

    @routes.get("/jobs/{job}", include_in_schema=False)
    async def page(request: Request, job: str) -> Response:
        if isinstance(job_id := await job_of(request, job), Response):
            return job_id
        try:
            view = await run_in_threadpool(job_view, node, job_id)
        except DainError as exc:
            return site.error(request, exc)
        return site.render(request, "job.html", view=view)

    @routes.get("/jobs/{job}/events", include_in_schema=False)
    async def events(request: Request, job: str) -> Response:
        if isinstance(job_id := await job_of(request, job), Response):
            return job_id
        csrf = site.access.csrf_token(site.session(request) or "")

        def render(view: JobView) -> dict[str, str]:
            parts = site.templates.get_template("job_parts.html").make_module(
                {"site": site, "csrf": csrf, "csrf_field": CSRF_FIELD}
            )  # fmt: skip
            return {"job-summary": str(parts.summary(view)),
                    "job-actions": str(parts.actions(view)),
                    "job-rounds": str(parts.rounds(view)),
                    "job-metric-chart": view.metric_chart(),
                    "job-metric-caption": str(escape(view.metric_caption)),
                    "job-model": str(parts.model(view)),
                    "job-epsilon-chart": view.epsilon_chart()}  # fmt: skip

        stream = job_events(request, lambda: job_view(node, job_id), render, live)
        return StreamingResponse(stream, media_type="text/event-stream",
                                 headers=HEADERS | {"X-Accel-Buffering": "no"})  # fmt: skip

    @routes.get("/jobs/{job}/card", include_in_schema=False)
    @routes.get("/jobs/{job}/card.md", include_in_schema=False)
    @routes.get("/jobs/{job}/card.json", include_in_schema=False)
    async def card(request: Request, job: str) -> Response:
        if isinstance(job_id := await job_of(request, job), Response):
            return job_id
        try:
            made = await run_in_threadpool(model_card, node, job_id)
        except DainError as exc:
            return site.error(request, exc)
        name = f"job-{job_id}-card"
        if request.url.path.endswith(".json"):
            return _download(json.dumps(made, indent=2) + "\n", f"{name}.json", "application/json")
        if request.url.path.endswith(".md"):
            return _download(render_card(made), f"{name}.md", "text/markdown; charset=utf-8")
        return site.render(request, "job_card.html", job_id=job_id, markdown=render_card(made))

    @routes.get("/jobs/{job}/model", include_in_schema=False)
    async def model(request: Request, job: str) -> Response:
        if isinstance(job_id := await job_of(request, job), Response):
            return job_id
        try:
            data, name = await run_in_threadpool(current_model, node, job_id)
        except DainError as exc:
            return site.error(request, exc, 404)
        return _download(data, name, "application/octet-stream")

    for what in ACTIONS:
        _action_routes(routes, site, what, job_of)
    return routes


def _action_routes(routes: APIRouter, site: Site, what: str, job_of: Any) -> None:
    """GET: the page saying what `what` does to the job; POST: doing it (CSRF-checked)."""
    node = site.node

    @routes.get(f"/jobs/{{job}}/{what}", include_in_schema=False, name=f"confirm_{what}")
    async def confirm(request: Request, job: str) -> Response:
        if isinstance(job_id := await job_of(request, job), Response):
            return job_id
        try:
            view = await run_in_threadpool(_allowed, site, job_id, what)
        except DainError as exc:
            return site.error(request, exc, _status(exc))
        title = f"{what.capitalize()} job {job_id}"
        return site.render(request, "job_confirm.html", title=title, job_id=job_id, what=what,
                           lines=_consequences(view, what))  # fmt: skip

    @routes.post(f"/jobs/{{job}}/{what}", include_in_schema=False, name=what)
    async def act(request: Request, job: str) -> Response:
        form = await site.action(request)
        if isinstance(form, Response):
            return form
        try:
            job_id = await run_in_threadpool(job_id_of, node, job, site.url(PAGE.path))
            after = await run_in_threadpool(_act, site, job_id, what)
        except DainError as exc:
            return site.error(request, exc, _status(exc))
        return site.render(request, "done.html", title=f"Job {job_id} {_done[what]}",
                           back=(f"/jobs/{job_id}", f"Back to job {job_id}"),
                           lines=_after(after, what))  # fmt: skip


_done = {"start": "started", "complete": "completed"}


class NotRequester(ConfigError):
    """An action on a job this node did not request: the chain would refuse it."""


def _allowed(site: Site, job_id: int, what: str) -> JobView:
    """The job, if this node may `what` it from here; the reason it may not otherwise."""
    view = job_view(site.node, job_id)
    if not view.mine:
        raise NotRequester(
            f"Job {job_id} was requested by {view.job.requester}, not by this node "
            f"({site.node.address}): only its requester may {what} it from here.",
            hint=f"Ask the requester, or use the dashboard of the node at {view.job.requester}."
            if what == "start" else f"'dain job complete {job_id}' completes it from any "
            "member's node once its last round is recorded.",
        )  # fmt: skip
    return view


def _act(site: Site, job_id: int, what: str) -> JobInfo:
    """`dain job start` / `dain job complete`: the same ledger call, the chain's own
    refusal (message and hint) if the job is not ready for it."""
    _allowed(site, job_id, what)
    jobs = site.node.ledger.jobs
    getattr(jobs, what)(job_id)
    return jobs.job(job_id)


def _consequences(view: JobView, what: str) -> list[str]:
    d = view.details
    if what == "start":
        return [
            f"Starting closes enrollment: the {d['assets_enrolled']} asset(s) enrolled now take "
            "part, and no other asset can enroll later.",
            f"Round 1 opens at once; each round's elected aggregator has {d['round_duration_s']} "
            f"s before another takes over. The job runs {d['rounds']} round(s) and pays from "
            f"its pool of {d['pool']}.",
            "This sends two transactions from this node's key: the start, then the draw of "
            "the job's seed.",
        ]
    return [
        f"Completing ends job {view.job.job_id} for good: no round can be recorded after it "
        f"({d['round']} of {d['rounds']} are).",
        f"The contract then computes each data owner's pay from the pool of {d['pool']} "
        "and settles it; the owners claim it on their own nodes.",
        "This sends one transaction from this node's key.",
    ]


def _after(job: JobInfo, what: str) -> list[str]:
    status = job.status.name.lower()
    lines = [f"Job {job.job_id} is now {status}."]
    if what == "start":
        lines.append(f"Round 1 of {job.rounds} is open: the enrolled assets' nodes train now.")
    else:
        lines.append("The data owners can claim their pay now ('My data' on their dashboard, "
                     "or 'dain rewards claim').")  # fmt: skip
    return lines


def _download(data: str | bytes, name: str, kind: str) -> Response:
    saved = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(data, media_type=kind, headers=HEADERS | saved)


def _status(exc: DainError) -> int:
    if isinstance(exc, UnknownJob):
        return 404
    return 403 if isinstance(exc, NotRequester) else 400
