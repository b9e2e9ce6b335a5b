"""The node's API as one table: every route, what it takes and which handler answers it.
The in-memory transport calls `Dispatcher.handle` directly; the HTTP app (`dain.node.http`)
serves the same table through FastAPI and hands every request to the same dispatcher. What
a failure is answered with is decided here, in one map from error to HTTP status.

Bad input from the network gets a 4xx and a reason, is logged, and never stops the node;
a bug in a handler gets a 500 and a logged traceback, and the node keeps serving."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dain.costs import Costs, attribute
from dain.errors import DainError
from dain.node.errors import (
    BodyTooLarge,
    EnvelopeError,
    Forbidden,
    ProtocolError,
    QuotaExceeded,
    StageOpen,
    TooManyMessages,
)
from dain.node.transport import Request, Response
from dain.storage import BlobNotFound

log = logging.getLogger(__name__)


class Body(StrEnum):
    NONE = "none"
    BLOB = "blob"  # raw safetensors bytes
    ENVELOPE = "envelope"  # a signed JSON envelope


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # a template: "{name}" parts match `params[name]`
    handler: str  # the name the node gives its handler
    summary: str
    body: Body = Body.NONE
    params: Mapping[str, str] = field(default_factory=dict)  # name -> regular expression
    signed: bool = False  # needs a signed envelope in the ENVELOPE_HEADER saying who asks

    def pattern(self) -> re.Pattern[str]:
        def part(found: re.Match[str]) -> str:
            return f"(?P<{found[1]}>{self.params[found[1]]})"

        return re.compile("^" + re.sub(r"\{(\w+)\}", part, self.path) + "$")


ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", "health",
          "Whether the node is up and its job runner is stepping (503 when it is not)"),
    Route("GET", "/status", "status", "What the node is doing"),
    Route("GET", "/blobs/{cid}", "get_blob",
          "A blob by content id (CIDv1, sha2-256), for a member whose role in its job lets it "
          "read it; the request is signed", params={"cid": "[a-z2-7]{59}"}, signed=True),
    Route("POST", "/blobs", "put_blob",
          "Store a safetensors blob for a job, from a member whose role lets it send one "
          "here; the request is signed; answers its content id", Body.BLOB, signed=True),
    Route("POST", "/updates", "update", "A signed update envelope for the round",
          Body.ENVELOPE),
    Route("POST", "/secagg/shares", "secagg_shares",
          "Secure aggregation, stage 1: a signed message with encrypted key shares",
          Body.ENVELOPE),
    Route("POST", "/secagg/inputs", "secagg_inputs",
          "Secure aggregation, stage 2: a signed masked update (blob sent first)",
          Body.ENVELOPE),
    Route("POST", "/secagg/check", "secagg_check",
          "Secure aggregation, stage 3: a survivor's signature over the roster and survivors",
          Body.ENVELOPE),
    Route("POST", "/secagg/unmask", "secagg_unmask",
          "Secure aggregation, stage 4: a signed answer to the unmask request", Body.ENVELOPE),
    Route("GET", "/secagg/{job_id}/{round}/{stage}", "secagg_stage",
          "A closed stage of a secure round: 'roster' (everyone's signed share messages) or "
          "'survivors' (survivors and dropped, to check and sign); 425 while it is still open",
          params={"job_id": "[0-9]{1,18}", "round": "[0-9]{1,9}",
                  "stage": "roster|survivors"}),
    Route("POST", "/metrics", "metrics_report",
          "A participant's signed metrics of a recorded round's model on one asset's held-out "
          "rows, for the job's requester", Body.ENVELOPE),
    Route("GET", "/jobs/{job_id}/metrics", "job_metrics",
          "Per round of the job: the requester's metrics, the participants' combined by "
          "examples, and how many reports; for the job's requester, in a signed request",
          params={"job_id": "[0-9]{1,18}"}, signed=True),
    Route("GET", "/secagg/{job_id}/{round}/unmask/{asset_id}", "secagg_unmask_request",
          "The unmask request of a secure round for one asset: survivors, dropped and the "
          "other survivors' vouchers to it for their view; 425 while the check is open",
          params={"job_id": "[0-9]{1,18}", "round": "[0-9]{1,9}", "asset_id": "[0-9]{1,78}"}),
)  # fmt: skip

# the first class a failure is an instance of decides its status
STATUS: tuple[tuple[type[Exception], int], ...] = (
    (BodyTooLarge, 413),
    (QuotaExceeded, 413),
    (TooManyMessages, 429),  # "too many requests": send again later
    (BlobNotFound, 404),
    (EnvelopeError, 401),
    (Forbidden, 403),
    (StageOpen, 425),  # "too early": ask again later
    (ProtocolError, 409),  # the message does not fit the round as this node sees it
    (DainError, 400),
)

Handler = Callable[[Request, dict[str, str]], Response]


def json_response(payload: Mapping[str, Any], status: int = 200) -> Response:
    return Response(status, json.dumps(payload).encode())


def status_of(exc: Exception) -> int:
    return next((status for kind, status in STATUS if isinstance(exc, kind)), 500)


def refusal(exc: Exception) -> Response:
    """The answer to a request that failed with `exc`."""
    status = status_of(exc)
    reason = str(exc) if status < 500 else "The node failed while answering; see its log."
    return json_response({"error": reason}, status)


class Dispatcher:
    """Answers requests from the table with the node's handlers."""

    def __init__(
        self,
        name: str,
        handlers: Mapping[str, Handler],
        max_body_bytes: int = 16 * 2**20,
        costs: Costs | None = None,
    ) -> None:
        """`costs`: where answering counts its time, for the round the request's envelope
        names (see `Intake`), or for no round."""
        missing = {r.handler for r in ROUTES} - set(handlers)
        if missing:
            raise ValueError(f"No handler for {sorted(missing)}.")
        self.name = name
        self.max_body_bytes = max_body_bytes
        self.costs = costs
        self._handlers = dict(handlers)
        self._routes = [(route, route.pattern()) for route in ROUTES]

    def too_large(self) -> BodyTooLarge:
        return BodyTooLarge(f"The request body exceeds {self.max_body_bytes} bytes.")

    def handle(self, request: Request) -> Response:
        with attribute(self.costs):
            return self._handle(request)

    def _handle(self, request: Request) -> Response:
        try:
            if len(request.body) > self.max_body_bytes:
                raise self.too_large()
            allowed = []
            for route, pattern in self._routes:
                found = pattern.match(request.path)
                if found is None:
                    continue
                if route.method == request.method:
                    return self._handlers[route.handler](request, found.groupdict())
                allowed.append(route.method)
            if allowed:
                return json_response(
                    {"error": f"{request.path} takes {', '.join(allowed)}, not {request.method}."},
                    405,
                )
            return json_response({"error": f"No route {request.method} {request.path}."}, 404)
        except Exception as exc:
            status = status_of(exc)
            if status >= 500:
                log.exception("%s failed on %s %s", self.name, request.method, request.path)
            else:
                log.info("%s refused %s %s: %s", self.name, request.method, request.path, exc)
            return refusal(exc)
