"""The node API over HTTP: a FastAPI app serving the route table of `dain.node.routes`
through the same dispatcher the in-memory transport calls, and an httpx client transport.
Both carry exactly the bytes the in-memory transport carries."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi import Request as HttpRequest
from fastapi.responses import Response as HttpResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from dain.node.endpoints import check_endpoint
from dain.node.errors import PeerUnavailable
from dain.node.routes import ROUTES, Body, Dispatcher, Route, refusal
from dain.node.transport import ENVELOPE_HEADER, Request, Response

_BODIES: dict[Body, dict[str, Any]] = {
    Body.BLOB: {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    Body.ENVELOPE: {"application/json": {"schema": {"type": "object"}}},
}


def _openapi(route: Route) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    parameters = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "string", "pattern": f"^({regex})$"}}
        for name, regex in route.params.items()
    ]  # fmt: skip
    if route.signed:
        parameters.append({"name": ENVELOPE_HEADER, "in": "header", "required": True,
                           "description": "A signed envelope (canonical JSON) saying who asks",
                           "schema": {"type": "string"}})  # fmt: skip
    if parameters:
        extra["parameters"] = parameters
    if route.body in _BODIES:
        extra["requestBody"] = {"required": True, "content": _BODIES[route.body]}
    if route.handler == "put_blob":  # what a stored blob's answer leads to: reading it back
        extra["responses"] = {"201": {
            "description": "Stored: its content id",
            "content": {"application/json": {"schema": {
                "type": "object", "properties": {"cid": {"type": "string"}}}}},
            "links": {"ReadIt": {"operationId": "get_blob",
                                 "parameters": {"cid": "$response.body#/cid"}}},
        }}  # fmt: skip
    return extra


def create_app(dispatcher: Dispatcher, title: str) -> FastAPI:
    app = FastAPI(
        title=title,
        description="Peer API of a dain node: signed envelopes, content-addressed blobs.",
        version="0.1.0",
    )

    def serve(route: Route) -> Callable[[HttpRequest], Awaitable[HttpResponse]]:
        async def endpoint(request: HttpRequest) -> HttpResponse:
            limit = dispatcher.max_body_bytes
            declared = request.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                return _to_http(refusal(dispatcher.too_large()))
            body = bytearray()
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    return _to_http(refusal(dispatcher.too_large()))
            # handling reads the chain: in a worker thread, so peers' requests overlap
            headers = {ENVELOPE_HEADER: request.headers.get(ENVELOPE_HEADER, "")}
            answer = await run_in_threadpool(
                dispatcher.handle,
                Request(request.method, request.url.path, bytes(body), headers),
            )
            return _to_http(answer)

        return endpoint

    for route in ROUTES:
        app.add_api_route(route.path, serve(route), methods=[route.method], name=route.handler,
                          operation_id=route.handler, summary=route.summary,
                          openapi_extra=_openapi(route))  # fmt: skip

    async def unrouted(request: HttpRequest, exc: Exception) -> HttpResponse:
        # no route, or not that method: answered as the dispatcher answers it in memory
        if isinstance(exc, HTTPException) and exc.status_code in (404, 405):
            return _to_http(dispatcher.handle(Request(request.method, request.url.path)))
        raise exc

    app.add_exception_handler(HTTPException, unrouted)
    return app


def _to_http(answer: Response) -> HttpResponse:
    return HttpResponse(answer.body, status_code=answer.status, media_type=answer.content_type)


class HttpTransport:
    """Talks to peers over HTTP within bounds, so no peer can hold a node: each read waits
    at most `timeout` seconds, a whole exchange at most `deadline` (a peer dripping one
    byte at a time is cut off), an answer holds at most `max_answer_bytes`, and only
    endpoints `check_endpoint` accepts are contacted (no private addresses unless
    `allow_private`)."""

    def __init__(
        self,
        timeout: float = 5.0,
        *,
        deadline: float = 20.0,
        max_answer_bytes: int = 17 * 2**20,
        allow_private: bool = False,
    ) -> None:
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)
        self.deadline = deadline
        self.max_answer_bytes = max_answer_bytes
        self.allow_private = allow_private
        self.bytes_sent = 0  # request bodies, for measuring the protocol's traffic
        self._count = threading.Lock()  # several rounds' hand-outs go out at once
        self._checked: dict[str, str] = {}  # endpoint -> its checked form

    def _base(self, endpoint: str) -> str:
        found = self._checked.get(endpoint)
        if found is None:
            found = check_endpoint(endpoint, allow_private=self.allow_private)
            self._checked[endpoint] = found
        return found

    def send(self, endpoint: str, request: Request) -> Response:
        url = self._base(endpoint) + request.path
        with self._count:
            self.bytes_sent += len(request.body)
        give_up = time.monotonic() + self.deadline
        try:
            with self._client.stream(request.method, url, content=request.body or None,
                                     headers=request.headers) as answer:  # fmt: skip
                body = self._read(endpoint, request.path, answer, give_up)
        except httpx.HTTPError as exc:
            raise PeerUnavailable(
                f"{endpoint} did not answer {request.path} ({type(exc).__name__})."
            ) from exc
        return Response(answer.status_code, body, answer.headers.get("content-type", ""))

    def _read(self, endpoint: str, path: str, answer: httpx.Response, give_up: float) -> bytes:
        declared = answer.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_answer_bytes:
            raise PeerUnavailable(f"{endpoint} answered {path} with more than "
                                  f"{self.max_answer_bytes} bytes.")  # fmt: skip
        body = bytearray()
        for chunk in answer.iter_bytes():
            body += chunk
            if len(body) > self.max_answer_bytes:
                raise PeerUnavailable(f"{endpoint} answered {path} with more than "
                                      f"{self.max_answer_bytes} bytes.")  # fmt: skip
            if time.monotonic() > give_up:
                raise PeerUnavailable(f"{endpoint} took over {self.deadline} s to answer {path}.")
        return bytes(body)

    def close(self) -> None:
        self._client.close()
