"""The dashboard as one router, which `dain node start` adds to the node's app under /ui:
served by the node, on the node's address, acting with the node's key. Each page is a
router of its own: `my_data`, `jobs`, `governance`, `audit`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from dain.web.access import TOKEN_FILE, Access, issue_token
from dain.web.audit import router as audit_routes
from dain.web.governance import router as governance_routes
from dain.web.jobs import router as jobs_routes
from dain.web.login import router as login_routes
from dain.web.my_data import router as my_data_routes
from dain.web.password import PasswordLogin
from dain.web.site import Site

if TYPE_CHECKING:
    from dain.node import Node, NodeHome

PREFIX = "/ui"


def dashboard(
    node: Node, token: str, prefix: str = PREFIX, keystore: Path | None = None
) -> APIRouter:
    """The dashboard's routes for `node`, under `prefix`, open to holders of `token` and,
    given the node's `keystore`, to whoever knows its password."""
    password = PasswordLogin(keystore, node.address) if keystore is not None else None
    site = Site(node, Access(token), prefix, password)
    routes = APIRouter(prefix=prefix)

    @routes.get("", include_in_schema=False)
    @routes.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse(site.url(site.pages[0].path), status_code=303)

    routes.include_router(login_routes(site))
    for pages in (my_data_routes, jobs_routes, governance_routes, audit_routes):
        routes.include_router(pages(site))  # in the navigation's order
    return routes


def with_dashboard(
    home: NodeHome, announce: Callable[[str, str, Path], None] | None = None
) -> Callable[[FastAPI, Node], None]:
    """What `dain.node.serve(home, password, extend=...)` takes to serve the dashboard on
    the node's address: once the node is open, a new access token is issued (kept in the
    home, 0600) and `announce` is told the dashboard's address, the token and its file."""

    def extend(app: FastAPI, node: Node) -> None:
        token = issue_token(home.root)
        if not home.config().dashboard_remote:
            this_machine_only(app)
        app.include_router(dashboard(node, token, keystore=home.keystore))
        if announce is not None:
            announce(f"{node.endpoint}{PREFIX}", token, home.root / TOKEN_FILE)

    return extend


LOOPBACK = frozenset({"::1", "localhost"})  # and 127.0.0.0/8, also IPv4-mapped
REMOTE_REFUSED = (
    "Refused: this node's dashboard answers only on the machine it runs on (it acts with the "
    "node's key). Open it there, or through an SSH tunnel; to open it to the network, set "
    "dashboard_remote = true in the node's node.toml."
)


def this_machine_only(app: FastAPI, prefix: str = PREFIX) -> None:
    """Refuses the dashboard's pages to clients on other machines; the peer API beside it
    is untouched (peers must reach it)."""

    @app.middleware("http")
    async def local_dashboard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.url.path
        ours = path == prefix or path.startswith(prefix + "/")
        client = request.client.host if request.client else ""
        local = client in LOOPBACK or client.removeprefix("::ffff:").startswith("127.")
        if ours and not local:
            return PlainTextResponse(REMOTE_REFUSED, status_code=403)
        return await call_next(request)
