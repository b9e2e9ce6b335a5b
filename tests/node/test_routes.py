"""One route table, served alike in memory and over HTTP; one map from error to status."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from dain.errors import DainError
from dain.identity import IdentityError
from dain.node import (
    ROUTES,
    BodyTooLarge,
    Dispatcher,
    EnvelopeError,
    ProtocolError,
    Request,
    Response,
    StageOpen,
    TooManyMessages,
    create_app,
)
from dain.node.routes import json_response, status_of
from dain.storage import BlobNotFound


def _echo(request: Request, params: dict[str, str]) -> Response:
    return json_response({"handler": params.get("which", ""), **params, "body": len(request.body)})


def _raising(exc: Exception):  # type: ignore[no-untyped-def]
    def handler(request: Request, params: dict[str, str]) -> Response:
        raise exc

    return handler


def _dispatcher(**overrides) -> Dispatcher:  # type: ignore[no-untyped-def]
    handlers = {
        route.handler: (lambda name: lambda q, p: _echo(q, {"which": name, **p}))(route.handler)
        for route in ROUTES
    }
    return Dispatcher("test", handlers | overrides, max_body_bytes=1000)


def _call(d: Dispatcher, method: str, path: str, body: bytes = b"") -> tuple[int, dict]:
    response = d.handle(Request(method, path, body))
    return response.status, json.loads(response.body)


def test_each_error_has_one_status() -> None:
    assert status_of(BodyTooLarge("x")) == 413
    assert status_of(BlobNotFound("x")) == 404
    assert status_of(EnvelopeError("x")) == 401
    assert status_of(StageOpen("x")) == 425
    assert status_of(TooManyMessages("x")) == 429  # before EnvelopeError, whose kind it is
    assert status_of(ProtocolError("x")) == 409
    assert status_of(IdentityError("x")) == 400  # any other DainError: the sender's fault
    assert status_of(DainError("x")) == 400
    assert status_of(KeyError("x")) == 500  # a bug of ours


def test_routes_are_matched_with_bounded_parameters() -> None:
    d = _dispatcher()
    cid = "bafkrei" + "a" * 52
    assert _call(d, "GET", f"/blobs/{cid}") == (200, {"handler": "get_blob", "which": "get_blob",
                                                       "cid": cid, "body": 0})  # fmt: skip
    assert _call(d, "GET", "/secagg/7/3/roster")[1]["stage"] == "roster"
    for path in (f"/blobs/{cid}x", "/blobs/BAFK", "/secagg/7/3/everything",
                 "/secagg/" + "9" * 19 + "/3/roster", "/nowhere"):  # fmt: skip
        status, answer = _call(d, "GET", path)
        assert status == 404 and "No route" in answer["error"]


def test_a_known_path_with_another_method_is_405() -> None:
    status, answer = _call(_dispatcher(), "GET", "/updates")
    assert status == 405 and "takes POST" in answer["error"]


def test_failures_become_their_status_and_the_dispatcher_goes_on() -> None:
    d = _dispatcher(update=_raising(ProtocolError("not this round")),
                    put_blob=_raising(ZeroDivisionError("secret detail")))  # fmt: skip
    assert _call(d, "POST", "/updates", b"{}") == (409, {"error": "not this round"})
    status, answer = _call(d, "POST", "/blobs", b"x")
    assert status == 500 and "secret detail" not in answer["error"]  # no internals leak
    assert _call(d, "POST", "/blobs", b"x" * 1001)[0] == 413
    assert _call(d, "GET", "/health")[0] == 200


def test_a_dispatcher_needs_a_handler_for_every_route() -> None:
    with pytest.raises(ValueError, match="No handler"):
        Dispatcher("test", {"health": _echo})


def test_the_http_app_serves_exactly_the_table() -> None:
    app = create_app(_dispatcher(), "test")
    served = {(m, r.path) for r in app.routes if hasattr(r, "methods") for m in r.methods
              if r.path not in ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")}
    assert served == {(route.method, route.path) for route in ROUTES}
    schema = app.openapi()["paths"]
    assert schema["/blobs/{cid}"]["get"]["parameters"][0]["name"] == "cid"
    assert "requestBody" in schema["/updates"]["post"]


@pytest.fixture
def server() -> Iterator[tuple[str, Dispatcher]]:
    dispatcher = _dispatcher(update=_raising(EnvelopeError("bad signature")),
                             secagg_stage=_raising(StageOpen("still open")))  # fmt: skip
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    served = uvicorn.Server(uvicorn.Config(create_app(dispatcher, "test"), log_level="warning"))
    thread = threading.Thread(target=served.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not served.started:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", dispatcher
    finally:
        served.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_http_and_in_memory_answer_the_same_bytes(server: tuple[str, Dispatcher]) -> None:
    url, dispatcher = server
    cid = "bafkrei" + "b" * 52
    requests = [("GET", "/health", b""), ("GET", f"/blobs/{cid}", b""),
                ("POST", "/blobs", b"\x00" * 10), ("POST", "/updates", b"{}"),
                ("GET", "/secagg/1/2/survivors", b""), ("GET", "/secagg/1/2/unmask/5", b""),
                ("GET", "/nowhere", b""),
                ("GET", "/updates", b""), ("POST", "/blobs", b"\x00" * 1001)]  # fmt: skip
    with httpx.Client() as client:
        for method, path, body in requests:
            direct = dispatcher.handle(Request(method, path, body))
            over_http = client.request(method, url + path, content=body or None)
            assert (over_http.status_code, over_http.content) == (direct.status, direct.body), path
