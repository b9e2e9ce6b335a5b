"""Logging in with the node's access token (or its keystore password) and out again; the
static files (stylesheets, scripts), which any page (the login form too) may load."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from dain.web.access import SESSION_COOKIE, SESSION_SECONDS, TOKEN_FILE
from dain.web.password import Paused
from dain.web.site import Site, read_form

WRONG_TOKEN = "That is not this node's access token."
WRONG_PASSWORD = "That is neither this node's access token nor its keystore's password."
WHERE_TOKEN = (f"'dain node start' prints it when the node starts, and keeps it in {TOKEN_FILE} "
               "in the node's home; a restart issues a new one.")  # fmt: skip


def router(site: Site) -> APIRouter:
    routes = APIRouter()

    @routes.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        found = site.static_files.get(name)
        if found is None:
            return PlainTextResponse("No such file.", status_code=404)
        return Response(found[0], media_type=found[1],
                        headers={"X-Content-Type-Options": "nosniff"})  # fmt: skip

    @routes.get("/login", include_in_schema=False)
    def login_form(request: Request) -> Response:
        return site.render(request, "login.html", password=site.password is not None)

    @routes.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await read_form(request)
        offered = form.get("token", "") if form else ""
        session = site.access.open_session(offered.strip())
        if session is None and site.password is not None:
            try:  # scrypt takes a second: not on the event loop
                if await run_in_threadpool(site.password.matches, offered):
                    session = site.access.new_session()
            except Paused as exc:
                return site.render(request, "login.html", 429, message=exc.message,
                                   hint=exc.hint, password=True)  # fmt: skip
        if session is None:
            wrong = WRONG_PASSWORD if site.password is not None else WRONG_TOKEN
            return site.render(request, "login.html", 403, message=wrong, hint=WHERE_TOKEN,
                               password=site.password is not None)  # fmt: skip
        answer = RedirectResponse(site.url("/data"), status_code=303)
        answer.set_cookie(SESSION_COOKIE, session, max_age=SESSION_SECONDS, path=site.prefix,
                          httponly=True, samesite="strict",
                          secure=request.url.scheme == "https")  # fmt: skip
        return answer

    @routes.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        form = await site.action(request)
        if isinstance(form, Response):
            return form
        site.access.close_session(request.cookies.get(SESSION_COOKIE, ""))
        answer = RedirectResponse(site.url("/login"), status_code=303)
        answer.delete_cookie(SESSION_COOKIE, path=site.prefix)
        return answer

    return routes


def must_log_in(site: Site, request: Request) -> Response | None:
    """Where a page sends a reader without a session: to the login form."""
    if site.session(request) is None:
        return RedirectResponse(site.url("/login"), status_code=303)
    return None
