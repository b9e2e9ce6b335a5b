"""What every page of the dashboard shares: the node it acts for, who may use it
(`Access`), the templates and stylesheet shipped in this package, the navigation, and the
one place where an error becomes a page (message and hint, as the CLI prints it; never a
stack trace). Pages are rendered on the server: a page needs no JavaScript to read."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from dain.errors import DainError
from dain.web.access import CSRF_FIELD, SESSION_COOKIE, TOKEN_FILE, Access
from dain.web.password import PasswordLogin

if TYPE_CHECKING:
    from dain.node import Node

MAX_FORM_BYTES = 16 * 1024  # the dashboard's forms are a few short fields
MAX_FIELDS = 32
# what the browser may load and where forms may go: this site's own files (the package's
# static folder) and nothing else; no inline script or style
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "script-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    # not "no-referrer": under it a browser sends "Origin: null" with the site's own forms,
    # which `action` must refuse; "same-origin" tells other sites nothing either
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # pages show a node's private state
}


@dataclass(frozen=True)
class Page:
    """A page in the navigation; later pages (jobs, governance, audit) add one each."""

    path: str  # under the dashboard's prefix
    title: str


@dataclass
class Site:
    """One node's dashboard, as its page routers share it."""

    node: Node
    access: Access
    prefix: str = "/ui"
    password: PasswordLogin | None = None  # logging in with the keystore's password too
    pages: list[Page] = field(default_factory=list, init=False)  # each router adds its own

    @cached_property
    def templates(self) -> Environment:
        return Environment(loader=PackageLoader("dain.web", "templates"),
                           autoescape=select_autoescape(default=True))  # fmt: skip

    @cached_property
    def static_files(self) -> dict[str, tuple[bytes, str]]:
        """The package's static files (name -> bytes, media type): stylesheets, the few
        scripts of the live parts; read once, served by name and by nothing else."""
        kinds = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
        found = {}
        for item in (resources.files("dain.web") / "static").iterdir():
            kind = kinds.get(item.name[item.name.rfind(".") :])
            if kind is not None and item.is_file():
                found[item.name] = (item.read_bytes(), kind)
        return found

    def url(self, path: str = "/") -> str:
        return self.prefix + path

    def session(self, request: Request) -> str | None:
        """The request's session id, if it is a live one."""
        session = request.cookies.get(SESSION_COOKIE)
        return session if self.access.session_valid(session) else None

    def render(self, request: Request, template: str, status: int = 200,
               **context: Any) -> HTMLResponse:  # fmt: skip
        session = self.session(request)
        html = self.templates.get_template(template).render(
            site=self, pages=self.pages, here=request.url.path, node=self.node,
            section=self.section(request) if self.pages else None,
            csrf_field=CSRF_FIELD,
            csrf=self.access.csrf_token(session) if session else "", **context,
        )  # fmt: skip
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    def error(self, request: Request, exc: DainError, status: int = 400) -> HTMLResponse:
        """An error as the CLI shows it: what was wrong, and what to do."""
        return self.render(request, "error.html", status, message=exc.message, hint=exc.hint)

    def section(self, request: Request) -> Page:
        """The navigation's page the request belongs to (where "Back" leads)."""
        path = request.url.path
        for page in self.pages:
            here = self.url(page.path)
            if path == here or path.startswith(here + "/"):
                return page
        return self.pages[0]

    async def action(self, request: Request) -> dict[str, str] | Response:
        """The form of an action (a POST), or the 403 refusing it: from another site, without
        a session opened with the access token, or without this session's CSRF token."""
        site = request.headers.get("sec-fetch-site", "same-origin")
        origin = request.headers.get("origin")
        if site not in ("same-origin", "none") or (
            origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}"
        ):
            return refuse("Refused: the request came from another site.")
        session = self.session(request)
        if session is None:
            return refuse("Refused: log in with the node's access token first "
                          f"(it is printed by 'dain node start' and kept in {TOKEN_FILE} "
                          "in the node's home).")  # fmt: skip
        form = await read_form(request)
        if form is None:
            return refuse("Refused: the form is too large or not a form.")
        if not self.access.csrf_matches(session, form.get(CSRF_FIELD, "")):
            return refuse("Refused: the form's CSRF token is missing or wrong; "
                          "reload the page and try again.")  # fmt: skip
        return form


def refuse(reason: str) -> Response:
    """403 with a plain message."""
    return PlainTextResponse(reason, status_code=403, headers=HEADERS)


async def read_form(request: Request) -> dict[str, str] | None:
    """An HTML form's fields (urlencoded, bounded), or None for anything else."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/x-www-form-urlencoded":
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        return None
    return dict(pairs)
