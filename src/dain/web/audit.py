"""The "Audit" page (first version: its place in the navigation; its content is being built)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dain.web.login import must_log_in
from dain.web.site import Page, Site

PAGE = Page("/audit", "Audit")


def router(site: Site) -> APIRouter:
    routes = APIRouter()
    site.pages.append(PAGE)

    @routes.get(PAGE.path, include_in_schema=False)
    async def page(request: Request) -> Response:
        if (login := must_log_in(site, request)) is not None:
            return login
        return site.render(request, "audit.html")

    return routes
