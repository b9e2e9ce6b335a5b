"""The node API over HTTP(S): a FastAPI app serving the route table of `dain.node.routes`
through the same dispatcher the in-memory transport calls, so it carries exactly the bytes
the in-memory transport carries. The client side is `dain.node.http_client`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from fastapi import Request as HttpRequest
from fastapi.responses import Response as HttpResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

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

