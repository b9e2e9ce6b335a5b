"""A dain node: one participant's identity, chain client, blob store and data assets. This
module only wires the parts together and says which handler answers which route; each
part does one job (see the package's modules)."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from dain.data import AssetManifest, ConsentPolicy, Dataset, format_asset_id
from dain.errors import DainError
from dain.ledger import Ledger
from dain.node.aggregator import Aggregator
from dain.node.blob_access import BlobAccess
from dain.node.blob_index import BlobIndex, BlobKind, BlobTag
from dain.node.chain_view import ChainView
from dain.node.clock import ChainClock
from dain.node.context import LocalAsset, NodeContext
from dain.node.envelope import MessageKind, seal
from dain.node.evaluation import Evaluation, RoundMetrics
from dain.node.evaluation_store import EvaluationStore
from dain.node.intake import Intake
from dain.node.models import JobModels
from dain.node.nonces import NonceStore
from dain.node.participant import Participant
from dain.node.peers import Peers
from dain.node.recorder import Recorder
from dain.node.routes import Dispatcher, Handler, json_response
from dain.node.runner import JobRunner, Roles
from dain.node.secure_aggregator import SecureAggregator
from dain.node.secure_participant import HoldAfter, SecureParticipant, agreement_public_key
from dain.node.state import NodeState
from dain.node.training import LocalTrainer
from dain.node.transport import Contact, Request, Response, Transport
from dain.storage import BlobStore


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
        hold_after: HoldAfter | None = None,
        nonces: NonceStore | None = None,
        index: BlobIndex | None = None,
        state: NodeState | None = None,
        evaluations: EvaluationStore | None = None,
        blob_quota_bytes: int = 256 * 2**20,
        blob_retention_seconds: float = 7 * 86_400.0,
    ) -> None:
        """`state` is the node's durable memory (what it trained, sent and spent), `nonces`
        remembers the envelopes it took (see `dain.node.nonces`) and `index` what each blob
        is (see `dain.node.blob_index`): in memory unless given; a node with a home keeps
        all three in its state database, so they survive a restart."""
        self.endpoint = endpoint
        clock = ChainClock(ledger.pending_time)

        def sign(kind: MessageKind, job_id: int, round: int, body: dict[str, Any]) -> bytes:
            return seal(ledger.identity, ledger.chain_id, kind, job_id, round, body).to_bytes()

        def contact(address: str) -> Contact:
            member = ledger.registry.member(address)
            return Contact(member.endpoint, member.tls_fingerprint)

        peers = Peers(ledger.address, transport, blobs, contact, sign)
        self.ctx = NodeContext(name, ledger, blobs, peers, clock, ChainView(ledger, clock),
                               index or BlobIndex(),
                               state=state or NodeState(":memory:"))  # fmt: skip
        self.models = JobModels(self.ctx)
        self.trainer = LocalTrainer(self.ctx, self.models)
        self.participant = Participant(self.ctx, self.trainer)
        self.secure_participant = SecureParticipant(self.ctx, self.trainer, hold_after)
        self.intake = Intake(self.ctx, nonces)
        self.recorder = Recorder(self.ctx, self.models)
        self.aggregator = Aggregator(
            self.ctx, self.intake, self.models, self.recorder, self.trainer.eligible_assets
        )
        self.secure_aggregator = SecureAggregator(self.ctx, self.intake, self.models,
                                                  self.recorder)  # fmt: skip
        self.blob_access = BlobAccess(self.ctx, self.intake, self.models,
                                      quota_bytes=blob_quota_bytes,
                                      retention_seconds=blob_retention_seconds)  # fmt: skip
        self.evaluation = Evaluation(self.ctx, self.intake, self.models, self.trainer,
                                     evaluations or EvaluationStore())  # fmt: skip
        self.runner: JobRunner | None = None
        self.bytes_served = 0
        self._served = threading.Lock()
        self.dispatcher = Dispatcher(name, self._handlers(), max_body_bytes, self.ctx.costs)

    # ---- who it is ---------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.ctx.name

    @property
    def ledger(self) -> Ledger:
        return self.ctx.ledger

    @property
    def blobs(self) -> BlobStore:
        return self.ctx.blobs

    @property
    def address(self) -> str:
        return self.ctx.address

    @property
    def assets(self) -> dict[int, LocalAsset]:
        return self.ctx.assets

    @property
    def peers(self) -> Peers:
        return self.ctx.peers

    @property
    def max_body_bytes(self) -> int:
        return self.dispatcher.max_body_bytes

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
        manifest_cid = self.ctx.keep(manifest.to_json(), BlobTag(BlobKind.DOCUMENT))
        policy_cid = self.ctx.keep(policy.document(), BlobTag(BlobKind.DOCUMENT))
        asset_id = self.ledger.assets.register(manifest, manifest_cid, policy, policy_cid)
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

    def set_policy(self, asset_id: int, policy: ConsentPolicy) -> int:
        """New consent terms for one of this node's assets: on chain (the full document kept
        where peers may read it) and in the node's own copy, which its training and
        auto-enrollment check as well, here and in its state after a restart. The new
        policy version."""
        cid = self.ctx.keep(policy.document(), BlobTag(BlobKind.DOCUMENT))
        version = self.ledger.assets.set_policy(asset_id, policy, cid)
        local = self.assets.get(asset_id)
        if local is not None:
            self.assets[asset_id] = replace(local, policy=policy)
        if any(stored.asset_id == asset_id for stored in self.ctx.state.assets()):
            self.ctx.state.set_policy(asset_id, policy)
        return version

    def set_evaluation(self, job_id: int, csv_path: Path, target: str) -> None:
        """This node, the job's requester, scores every round's model of the job on the rows
        of a CSV file of its own (which stays where it is), beside the participants' reports."""
        self.evaluation.set_evaluation(job_id, csv_path, target)

    def metrics(self, job_id: int) -> list[RoundMetrics]:
        """Per round: this node's own metrics (as requester), the participants' reports
        combined by examples, and how many reports (see `dain.node.evaluation`)."""
        return self.evaluation.summary(job_id)

    def fetch_blob(self, cid: str, holders: list[str], job_id: int = 0) -> bytes:
        """The blob with content id `cid`, from here or the first holder that lets this
        node read it for its role in `job_id`."""
        return self.peers.fetch_blob(cid, holders, job_id)

    def make_runner(self, state: NodeState, poll_seconds: float = 0.3) -> JobRunner:
        """The job runner that drives this node's part in every job (not started)."""
        roles = Roles(self.trainer, self.participant, self.secure_participant, self.aggregator,
                      self.secure_aggregator, self.models, self.blob_access)  # fmt: skip
        self.runner = JobRunner(self.ctx, roles, state, poll_seconds)
        self.runner.evaluator = self.evaluation
        return self.runner

    # ---- serving peers -----------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answers a peer. Bad input gets a 4xx with a reason; the node keeps running."""
        return self.dispatcher.handle(request)

    def health(self) -> tuple[bool, dict[str, Any]]:
        found: dict[str, Any] = {"status": "ok", "node": self.name, "address": self.address}
        if self.runner is not None:
            health = self.runner.health()
            found["runner"] = str(health)
            if not health.ok:
                found["status"] = "degraded"
                found["last_error"] = self.runner.status.last_error
            return health.ok, found
        return True, found

    def status(self) -> dict[str, Any]:
        transport = self.peers.transport
        found: dict[str, Any] = {
            "node": self.name, "address": self.address, "endpoint": self.endpoint,
            "assets": [format_asset_id(a) for a in self.assets],
            "chain_time": self._chain_time(),
            "secure_stages": self.secure_participant.stages(),
            "secure_held": self.secure_participant.held(),
            "secure_rounds": self.secure_aggregator.summaries,
            "bytes_sent": getattr(transport, "bytes_sent", 0) + self.bytes_served,
        }  # fmt: skip
        if self.runner is not None:
            found |= self.runner.report()
        return found

    def _chain_time(self) -> float | None:
        """The chain's time now; None while the chain cannot be read (the status still
        answers then: it is when an operator needs it most)."""
        try:
            return round(self.ctx.clock.now(), 3)
        except DainError:
            return None

    def _handlers(self) -> dict[str, Handler]:
        signals = self.ctx.signals

        def written(answer: dict[str, Any], status: int) -> Response:
            signals.activity.set()  # a peer wrote to us: the runner looks at once
            return json_response(answer, status)

        def health(request: Request, params: dict[str, str]) -> Response:
            ok, found = self.health()
            return json_response(found, 200 if ok else 503)

        def get_blob(request: Request, params: dict[str, str]) -> Response:
            blob = self.blob_access.read(params["cid"], request.envelope)
            with self._served:
                self.bytes_served += len(blob)
            return Response(200, blob, "application/octet-stream")

        def secure(kind: MessageKind) -> Handler:
            return lambda request, params: written(
                self.secure_aggregator.accept(kind, request.body), 202
            )

        def stage(request: Request, params: dict[str, str]) -> Response:
            job_id, round = int(params["job_id"]), int(params["round"])
            if params["stage"] == "roster":
                return json_response(self.secure_aggregator.roster(job_id, round))
            return json_response(self.secure_aggregator.survivors_request(job_id, round))

        def unmask_request(request: Request, params: dict[str, str]) -> Response:
            job_id, round = int(params["job_id"]), int(params["round"])
            asked = self.secure_aggregator.unmask_request(job_id, round, int(params["asset_id"]))
            return json_response(asked)

        return {
            "health": health,
            "status": lambda request, params: json_response(self.status()),
            "get_blob": get_blob,
            "put_blob": lambda request, params: written(
                {"cid": self.blob_access.store(request.body, request.envelope)}, 201
            ),
            "update": lambda request, params: written(
                self.aggregator.accept_update(request.body), 202
            ),
            "secagg_shares": secure(MessageKind.SHARES),
            "secagg_inputs": secure(MessageKind.MASKED),
            "secagg_check": secure(MessageKind.CHECK),
            "secagg_unmask": secure(MessageKind.UNMASK),
            "secagg_stage": stage,
            "secagg_unmask_request": unmask_request,
            "metrics_report": lambda request, params: written(
                self.evaluation.accept(request.body), 202
            ),
            "job_metrics": lambda request, params: json_response(
                self.evaluation.read(request.envelope, int(params["job_id"]))
            ),
        }
