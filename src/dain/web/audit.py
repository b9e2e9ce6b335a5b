"""The "Audit" page: the trail of an asset, a job or a member, read from chain events by the
same `Auditor` `dain audit` prints, as tables and as downloads (JSON as `--json` prints it,
CSV one row per event). Lookups are GET forms and links: every page reads without
JavaScript. Chain reads block, so they run in worker threads."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from dain.errors import DainError
from dain.ledger import LedgerError, UnknownSubject, trail_csv, trail_json
from dain.web.audit_view import (
    KINDS,
    Subject,
    asset_tables,
    job_tables,
    member_tables,
    parse_subject,
    quick_links,
    read_trail,
)
from dain.web.login import must_log_in
from dain.web.site import HEADERS, Page, Site

if TYPE_CHECKING:
    from dain.ledger import AssetTrail, JobTrail, MemberTrail

PAGE = Page("/audit", "Audit")
TABLES = {"asset": asset_tables, "job": job_tables, "member": member_tables}
EXPORTS = {".json": "application/json", ".csv": "text/csv; charset=utf-8"}


def router(site: Site) -> APIRouter:
    routes = APIRouter()
    node = site.node
    site.pages.append(PAGE)

    @routes.get(PAGE.path, include_in_schema=False)
    async def page(request: Request) -> Response:
        if (login := must_log_in(site, request)) is not None:
            return login
        asked = [(k, request.query_params[k]) for k in KINDS if k in request.query_params]
        try:
            if asked:  # a lookup form was sent: go to the trail's own address
                subject = await run_in_threadpool(parse_subject, node, *asked[0])
                return RedirectResponse(site.url(subject.path), status_code=303)
            links = await run_in_threadpool(quick_links, node)
        except DainError as exc:
            return site.render(request, "audit.html", _status(exc), message=exc.message,
                               hint=exc.hint, typed=dict(asked), links=None)  # fmt: skip
        return site.render(request, "audit.html", links=links, typed={})

    @routes.get(PAGE.path + "/{kind}/{key}", include_in_schema=False)
    async def trail(request: Request, kind: str, key: str) -> Response:
        if (login := must_log_in(site, request)) is not None:
            return login
        key, suffix = _split(key)
        try:
            if kind not in KINDS:
                raise UnknownSubject(f"There is no audit of '{kind[:40]}'.",
                                     hint="Audit an asset, a job or a member.")  # fmt: skip
            subject = await run_in_threadpool(parse_subject, node, kind, key)
            if subject.key != key:  # typed another way: the page's own address
                return RedirectResponse(site.url(subject.path) + suffix, status_code=303)
            found = await run_in_threadpool(read_trail, node, subject)
        except DainError as exc:
            return site.error(request, exc, _status(exc))
        if suffix:
            return _download(subject, found, suffix)
        return site.render(request, f"audit_{kind}.html", subject=subject,
                           tables=TABLES[kind](found), trail=found)  # fmt: skip

    return routes


def _split(key: str) -> tuple[str, str]:
    """A key and the export it asks for ('.json', '.csv' or '' for the page)."""
    for suffix in EXPORTS:
        if key.endswith(suffix):
            return key.removesuffix(suffix), suffix
    return key, ""


def _download(
    subject: Subject, found: AssetTrail | JobTrail | MemberTrail, suffix: str
) -> Response:
    # the JSON as `dain audit --json` prints it, its final newline included
    body = trail_json(found) + "\n" if suffix == ".json" else trail_csv(found)
    disposition = f'attachment; filename="{subject.filename}{suffix}"'
    return Response(body, media_type=EXPORTS[suffix],
                    headers={**HEADERS, "Content-Disposition": disposition})  # fmt: skip


def _status(exc: DainError) -> int:
    """404 for what names nothing, 400 for what is malformed, 502 when the chain fails."""
    if isinstance(exc, UnknownSubject):
        return 404
    if isinstance(exc, LedgerError):
        return 502
    return 400
