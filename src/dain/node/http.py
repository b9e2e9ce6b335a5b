"""The node API over HTTP: a FastAPI app in front of `Node.handle`, and an httpx client
transport. Both carry exactly the bytes the in-memory transport carries."""

from __future__ import annotations

import json
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi import Request as HttpRequest
from fastapi.responses import Response as HttpResponse
from starlette.concurrency import run_in_threadpool

from dain.node.errors import PeerError
from dain.node.node import Node
from dain.node.transport import Request, Response

_RAW_BODY = {
    "requestBody": {
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    }
}
_ENVELOPE_BODY = {"requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}}}
_POSTS = (  # path, what it takes, its body
    ("/blobs", "Store a safetensors blob; answers its content id", _RAW_BODY),
    ("/updates", "A signed update envelope for the round", _ENVELOPE_BODY),
    ("/secagg/shares", "Secure aggregation, stage 1: a signed message with encrypted key "
     "shares", _ENVELOPE_BODY),
    ("/secagg/inputs", "Secure aggregation, stage 2: a signed masked update (blob sent first)",
     _ENVELOPE_BODY),
    ("/secagg/unmask", "Secure aggregation, stage 3: a signed answer to the unmask request",
     _ENVELOPE_BODY),
)  # fmt: skip


def create_app(node: Node, status: Callable[[], dict[str, Any]] | None = None) -> FastAPI:
    app = FastAPI(
        title=f"dain node {node.name}",
        description="Peer API of a dain node: signed envelopes, content-addressed blobs.",
        version="0.1.0",
    )

    async def relay(request: HttpRequest, path: str) -> HttpResponse:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > node.max_body_bytes:
            return _refuse(413, f"The request body exceeds {node.max_body_bytes} bytes.")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > node.max_body_bytes:
                return _refuse(413, f"The request body exceeds {node.max_body_bytes} bytes.")
        # handling reads the chain: in a worker thread, so peers' requests overlap
        answer = await run_in_threadpool(node.handle, Request(request.method, path, bytes(body)))
        return HttpResponse(answer.body, status_code=answer.status, media_type=answer.content_type)

    @app.get("/health", summary="Whether the node is up, and who it is")
    async def health(request: HttpRequest) -> HttpResponse:
        return await relay(request, "/health")

    @app.get("/status", summary="What the node is doing")
    async def node_status() -> dict[str, Any]:
        return status() if status else {"node": node.name}

    @app.get("/blobs/{cid}", summary="A blob by content id (CIDv1, sha2-256)")
    async def get_blob(request: HttpRequest, cid: str) -> HttpResponse:
        return await relay(request, f"/blobs/{cid}")

    def relay_to(path: str) -> Callable[[HttpRequest], Awaitable[HttpResponse]]:
        async def endpoint(request: HttpRequest) -> HttpResponse:
            return await relay(request, path)

        return endpoint

    for path, summary, body in _POSTS:
        app.add_api_route(path, relay_to(path), methods=["POST"], summary=summary,
                          openapi_extra=body)  # fmt: skip

    @app.get(
        "/secagg/{job_id}/{round}/{stage}",
        summary="A closed stage of a secure round: 'roster' (everyone's signed share "
        "messages) or 'unmask' (survivors and dropped); 409 while it is open",
    )
    async def get_stage(request: HttpRequest, job_id: int, round: int, stage: str) -> HttpResponse:
        return await relay(request, f"/secagg/{job_id}/{round}/{stage}")

    return app


def _refuse(status: int, reason: str) -> HttpResponse:
    return HttpResponse(
        json.dumps({"error": reason}), status_code=status, media_type="application/json"
    )


class HttpTransport:
    """Talks to peers over HTTP with short timeouts, so a slow peer costs at most
    `timeout` seconds and never stalls a round past its deadline."""

    def __init__(self, timeout: float = 5.0) -> None:
        self._client = httpx.Client(timeout=timeout)
        self.bytes_sent = 0  # request bodies, for measuring the protocol's traffic
        self._count = threading.Lock()  # several rounds' hand-outs go out at once

    def send(self, endpoint: str, request: Request) -> Response:
        with self._count:
            self.bytes_sent += len(request.body)
        try:
            answer = self._client.request(request.method, endpoint.rstrip("/") + request.path,
                                          content=request.body or None)  # fmt: skip
        except httpx.HTTPError as exc:
            raise PeerError(
                f"{endpoint} did not answer {request.path} ({type(exc).__name__})."
            ) from exc
        return Response(answer.status_code, answer.content, answer.headers.get("content-type", ""))

    def close(self) -> None:
        self._client.close()
