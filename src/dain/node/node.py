"""A dain node: one participant's identity, chain client, blob store and data assets,
serving its peers through a request handler that any transport can carry."""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass

from dain.data import AssetManifest, ConsentPolicy, Dataset
from dain.errors import DainError
from dain.ledger import Ledger
from dain.node.errors import NodeError, PeerError
from dain.node.rounds import RoundState
from dain.node.secure import SecureAggregator, SecureParticipant, agreement_public_key
from dain.node.transport import Request, Response, Transport
from dain.storage import BlobNotFound, BlobStore, StorageError, verify

log = logging.getLogger(__name__)
_BLOB_PATH = re.compile(r"^/blobs/(?P<cid>[a-z2-7]{59})$")
_SECAGG_PATH = re.compile(
    r"^/secagg/(?P<job>[0-9]{1,18})/(?P<round>[0-9]{1,9})/(?P<what>roster|unmask)$"
)
_SECAGG_POSTS = {
    "/secagg/shares": "secagg-shares",
    "/secagg/inputs": "secagg-input",
    "/secagg/unmask": "secagg-unmask",
}


@dataclass(frozen=True)
class LocalAsset:
    """A data asset this node holds. The rows never leave the node."""

    asset_id: int
    title: str
    dataset: Dataset
    manifest: AssetManifest
    policy: ConsentPolicy


class Node:
    def __init__(
        self,
        name: str,
        ledger: Ledger,
        blobs: BlobStore,
        transport: Transport,
        endpoint: str,
        *,
        max_body_bytes: int = 16 * 2**20,
    ) -> None:
        self.name = name
        self.ledger = ledger
        self.blobs = blobs
        self.transport = transport
        self.endpoint = endpoint
        self.max_body_bytes = max_body_bytes
        self.assets: dict[int, LocalAsset] = {}
        self.rounds = RoundState(self)
        self.secure_participant = SecureParticipant(self)
        self.secure_aggregator = SecureAggregator(self)
        self.activity = threading.Event()  # set when a peer hands us a blob or an update
        self._endpoints: dict[str, str] = {}
        self.bytes_served = 0

    @property
    def address(self) -> str:
        return self.ledger.address

    # ---- setup -------------------------------------------------------------------

    def join(self) -> None:
        """Registers this node's DID and endpoint on chain."""
        self.ledger.registry.register(self.endpoint)

    def register_asset(
        self, dataset: Dataset, title: str, policy: ConsentPolicy, salt: bytes | None = None
    ) -> int:
        """Registers `dataset` as an asset on chain. `salt` keeps the data commitment
        unguessable; it is random unless given (the demo fixes it to be reproducible)."""
        manifest, _salt = AssetManifest.describe(dataset, title, salt)
        manifest_cid = self.blobs.put(manifest.to_json())
        policy_cid = self.blobs.put(policy.document())
        asset_id = self.ledger.assets.register(manifest.digest, manifest_cid, policy, policy_cid)
        self.assets[asset_id] = LocalAsset(asset_id, title, dataset, manifest, policy)
        return asset_id

    def enroll(self, job_id: int, asset_id: int) -> None:
        """Enrolls one of this node's assets in a job, publishing the asset's agreement
        key for the job when it runs secure aggregation."""
        secure = self.ledger.jobs.job(job_id).secure_aggregation
        key = agreement_public_key(self.ledger, job_id, asset_id) if secure else b""
        self.ledger.jobs.enroll(job_id, asset_id, key)

    def revoke(self, asset_id: int) -> int:
        """Revokes consent on chain; later rounds will not use the asset."""
        return self.ledger.assets.revoke(asset_id)

    # ---- serving peers -----------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answers a peer. Bad input gets a 4xx with a reason; the node keeps running."""
        try:
            if len(request.body) > self.max_body_bytes:
                raise NodeError(f"The request body exceeds {self.max_body_bytes} bytes.")
            if request.method == "GET" and request.path == "/health":
                return _json(200, {"status": "ok", "node": self.name, "address": self.address})
            match = _BLOB_PATH.match(request.path)
            if request.method == "GET" and match:
                blob = self.blobs.get(match["cid"])
                self.bytes_served += len(blob)
                return Response(200, blob, "application/octet-stream")
            if request.method == "POST" and request.path == "/blobs":
                answer = _json(201, {"cid": self.rounds.accept_blob(request.body)})
                self.activity.set()
                return answer
            if request.method == "POST" and request.path == "/updates":
                answer = _json(202, self.rounds.accept_update(request.body))
                self.activity.set()
                return answer
            if request.method == "POST" and request.path in _SECAGG_POSTS:
                kind = _SECAGG_POSTS[request.path]
                answer = _json(202, self.secure_aggregator.accept(kind, request.body))
                self.activity.set()
                return answer
            stage = _SECAGG_PATH.match(request.path)
            if request.method == "GET" and stage:
                job_id, round = int(stage["job"]), int(stage["round"])
                secure = self.secure_aggregator
                found = (secure.roster if stage["what"] == "roster" else secure.unmask_request)(
                    job_id, round
                )
                if found is None:
                    return _json(409, {"error": "That stage of the round is still open."})
                return _json(200, found)
            return _json(404, {"error": f"No route {request.method} {request.path}."})
        except BlobNotFound as exc:
            return _json(404, {"error": str(exc)})
        except NodeError as exc:
            log.info("%s refused %s %s: %s", self.name, request.method, request.path, exc)
            return _json(exc.status, {"error": str(exc)})
        except DainError as exc:
            log.info("%s refused %s %s: %s", self.name, request.method, request.path, exc)
            return _json(400, {"error": str(exc)})

    # ---- talking to peers --------------------------------------------------------

    def fetch_blob(self, cid: str, peers: list[str]) -> bytes:
        """The blob with content id `cid`, from here or the first peer that has it."""
        if self.blobs.has(cid):
            return self.blobs.get(cid)
        for address in peers:
            if address == self.address:
                continue
            endpoint = self.endpoint_of(address)
            try:
                response = self.transport.send(endpoint, Request("GET", f"/blobs/{cid}"))
            except PeerError:
                continue
            if not response.ok:
                continue
            try:
                verify(cid, response.body)
            except StorageError as exc:
                log.warning("%s: peer %s sent a corrupt blob: %s", self.name, address, exc)
                continue
            self.blobs.put(response.body)
            return response.body
        raise PeerError(f"No peer could provide blob {cid}.")

    def endpoint_of(self, address: str) -> str:
        """A member's node URL from the registry, remembered until a request to it fails."""
        if address not in self._endpoints:
            self._endpoints[address] = self.ledger.registry.member(address).endpoint
        return self._endpoints[address]

    def post(self, address: str, path: str, body: bytes) -> dict[str, object]:
        endpoint = self.endpoint_of(address)
        try:
            response = self.transport.send(endpoint, Request("POST", path, body))
        except PeerError:
            self._endpoints.pop(address, None)  # it may have moved: look it up again next time
            raise
        try:
            payload = json.loads(response.body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise PeerError(f"{endpoint} answered {path} with non-JSON.") from None
        if not isinstance(payload, dict):
            raise PeerError(f"{endpoint} answered {path} with JSON that is not an object.")
        if not response.ok:
            raise PeerError(
                f"{endpoint} refused {path}: {payload.get('error', response.status)}",
                peer_status=response.status,
            )
        return payload


def _json(status: int, payload: dict[str, object]) -> Response:
    return Response(status, json.dumps(payload).encode())
