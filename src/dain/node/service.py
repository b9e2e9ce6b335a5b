"""`dain node start`: one node as its own process. It checks its key and membership,
publishes its endpoint, public key and TLS certificate fingerprint on chain, serves peers
over HTTPS with that certificate and runs its jobs."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from dain.data import AssetManifest, DatasetError, load_csv
from dain.errors import ConfigError
from dain.identity import Identity
from dain.learning import warm_up
from dain.ledger import Deployment, Ledger, RpcChain
from dain.node.blob_index import BlobIndex
from dain.node.context import LocalAsset
from dain.node.evaluation_store import EvaluationStore
from dain.node.home import NodeConfig, NodeHome
from dain.node.http import create_app
from dain.node.http_client import HttpTransport
from dain.node.node import Node
from dain.node.secure_participant import HoldAfter, Stage
from dain.node.state import NodeState
from dain.storage import FileBlobStore

log = logging.getLogger(__name__)


def open_node(home: NodeHome, password: str) -> tuple[Node, NodeState]:
    """The node of `home`, its chain client and its assets, ready to serve."""
    config = home.config()
    identity = Identity.load_keystore(home.keystore, password)
    ledger = Ledger(RpcChain(config.rpc), Deployment.load(Path(config.deployment)), identity)
    state = NodeState(home.state)
    node = Node(
        config.name, ledger, FileBlobStore(home.blobs), HttpTransport(
            config.peer_timeout_seconds, deadline=config.peer_deadline_seconds,
            max_answer_bytes=config.max_body_bytes + 2**20,
            allow_private=config.allow_private_peers,
            allow_plain_http=config.allow_plain_http_peers),
        config.endpoint, max_body_bytes=config.max_body_bytes, hold_after=_hold_file(home.hold),
        nonces=state, state=state,  # envelopes taken, and privacy spent, survive a restart
        evaluations=EvaluationStore(home.state),  # metrics made and reports taken, likewise
        index=BlobIndex(home.state), blob_quota_bytes=config.blob_quota_mb * 2**20,
        blob_retention_seconds=config.blob_retention_days * 86_400,
    )  # fmt: skip
    for stored in state.assets():
        try:
            dataset = load_csv(stored.csv_path, stored.target)
        except DatasetError as exc:
            log.warning("%s: asset %x is unavailable: %s", config.name, stored.asset_id, exc)
            continue
        manifest, _ = AssetManifest.describe(dataset, stored.title, stored.salt)
        if int.from_bytes(manifest.digest, "big") != stored.asset_id:
            # the file changed since registration: training on it would break the commitment
            log.warning("%s: %s no longer matches asset %x; it sits out", config.name,
                        stored.csv_path, stored.asset_id)  # fmt: skip
            continue
        node.assets[stored.asset_id] = LocalAsset(stored.asset_id, stored.title, dataset, manifest,
                                                  stored.policy)  # fmt: skip
    return node, state


def _hold_file(path: Path) -> HoldAfter:
    """A test hook: while `path` holds {"job": J, "round": R, "after": STAGE}, the node
    stops its part in that secure round after that stage, as a crash there would, and its
    status says so; a test can then wait for that instead of racing the node. Absent on
    real nodes (an unreadable file holds nothing)."""

    def hold_after(job_id: int, round: int) -> Stage | None:
        try:
            wanted = json.loads(path.read_text())
            if (wanted["job"], wanted["round"]) == (job_id, round):
                return Stage(wanted["after"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return None

    return hold_after


def serve(home: NodeHome, password: str) -> None:
    import uvicorn

    config = home.config()
    if config.train_threads:
        import torch

        # nodes sharing a machine each keep to their share of the cores: oversubscribed
        # training threads spin against each other and slow every round several-fold
        torch.set_num_threads(config.train_threads)
    warm_up()
    node, state = open_node(home, password)
    if not node.ledger.registry.is_member(node.address):
        raise ConfigError(
            f"{node.address} is not an admitted member of this network.",
            hint="Ask members to admit it ('dain gov propose --admit'), or on a test chain "
            "'dain chain admit'.",
        )
    tls = home.tls_fingerprint(config) if config.tls else b""
    node.ledger.registry.register(node.endpoint, node.ledger.identity.public_key, tls)
    runner = node.make_runner(state, config.poll_seconds)

    class NodeServer(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            runner.stop()  # take no further part in any round once asked to stop
            super().handle_exit(sig, frame)

    server = NodeServer(
        uvicorn.Config(
            create_app(node.dispatcher, f"dain node {node.name}"), host=config.host,
            port=config.port, log_level="warning", **_tls_settings(home, config),
        )
    )  # fmt: skip
    thread = threading.Thread(target=runner.run, name=f"{node.name}-runner", daemon=True)
    home.pid_file.write_text(str(os.getpid()))
    thread.start()
    try:
        server.run()  # returns on SIGTERM / SIGINT
    finally:
        runner.stop()
        thread.join(timeout=10)
        state.close()
        home.pid_file.unlink(missing_ok=True)


def _tls_settings(home: NodeHome, config: NodeConfig) -> dict[str, Any]:
    """uvicorn's settings for serving HTTPS with the home's key and certificate."""
    if not config.tls:
        return {}
    return {
        "ssl_keyfile": str(home.tls_key),
        "ssl_certfile": str(home.tls_certificate),
        # uvicorn's default ("TLSv1") also offers CBC suites; TLS 1.3 is unaffected by this
        "ssl_ciphers": "ECDHE+AESGCM:ECDHE+CHACHA20",
    }
