"""`dain node start`: one node as its own process. It takes its port (before its key is
unlocked: a busy port is named at once), checks its key and membership, publishes its
endpoint, public key and TLS certificate fingerprint on chain, serves peers over HTTPS with
that certificate and runs its jobs, logging what it does (dain.node.logs)."""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dain.data import AssetManifest, DatasetError, load_asset
from dain.errors import ConfigError
from dain.identity import Identity
from dain.learning import warm_up
from dain.ledger import Deployment, Ledger, RpcChain
from dain.node.auto_enroll import auto_enroller
from dain.node.blob_index import BlobIndex
from dain.node.context import LocalAsset
from dain.node.evaluation_store import EvaluationStore
from dain.node.home import NodeConfig, NodeHome
from dain.node.http import create_app
from dain.node.http_client import HttpTransport
from dain.node.logs import configure as configure_logs
from dain.node.node import Node
from dain.node.secure_participant import HoldAfter, Stage
from dain.node.state import NodeState
from dain.storage import FileBlobStore

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger(__name__)
STOP_GRACE_SECONDS = 3
# adds routes to a node's app before it serves (dain.web's dashboard)
Extension = Callable[["FastAPI", Node], None]


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
            dataset = load_asset(stored.csv_path, stored.target, **stored.load_options)
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


def listen(home: NodeHome, config: NodeConfig) -> socket.socket:
    """The node's listening socket, bound to its host and port; what to change when it
    cannot be (a port another node or program holds, a host not of this machine)."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
    try:
        sock.bind((config.host, config.port))
    except OSError as exc:
        sock.close()
        where = f"{config.host}:{config.port}"
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"Port {config.port} is in use on {config.host}: another node or program "
                f"listens there, so node {config.name} cannot.",
                hint=f"Set 'port' in {home.config_file} to a free port (the node publishes its "
                "new endpoint when it starts), or give each node its own with "
                "'dain node init --port'.",
            ) from None
        if exc.errno == errno.EACCES:
            raise ConfigError(
                f"Node {config.name} may not listen on {where}: ports below 1024 need root.",
                hint=f"Set 'port' in {home.config_file} to 1024 or above.",
            ) from None
        # EADDRNOTAVAIL, or a name that does not resolve (socket.gaierror)
        raise ConfigError(
            f"Node {config.name} cannot listen on {where}: {exc.strerror or exc}.",
            hint=f"Set 'host' in {home.config_file} to an address of this machine.",
        ) from None
    return sock


def serve(
    home: NodeHome, password: str | Callable[[], str], extend: Extension | None = None
) -> None:
    """Runs the node until SIGTERM or SIGINT. `password` may be a function that asks for
    it: it is called once the port is taken. `extend` adds routes to the node's app once the
    node is open: how an interface layer (the dashboard, dain.web) is served on the node's
    address without the node importing it."""
    config = home.config()
    listener = listen(home, config)
    try:
        secret = password() if callable(password) else password
        configure_logs(home.log_file, config.log_level)
        _serve(home, config, secret, listener, extend)
    finally:
        listener.close()


def _serve(
    home: NodeHome, config: NodeConfig, password: str, listener: socket.socket,
    extend: Extension | None,
) -> None:  # fmt: skip
    import uvicorn

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
    runner.auto_enroll = auto_enroller(node.ctx, node.enroll, config.auto_enroll,
                                       node.trainer.misfit)  # fmt: skip

    class NodeServer(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            runner.stop()  # take no further part in any round once asked to stop
            super().handle_exit(sig, frame)

    app = create_app(node.dispatcher, f"dain node {node.name}")
    if extend is not None:
        extend(app, node)
    server = NodeServer(
        uvicorn.Config(
            app, host=config.host,
            port=config.port, log_level="warning", log_config=None,  # logs go to ours
            # an idle peer's TLS connection would hold the stop for 30 s (asyncio's wait for
            # its close_notify): requests still running get this long, then are cancelled
            timeout_graceful_shutdown=STOP_GRACE_SECONDS, **_tls_settings(home, config),
        )
    )  # fmt: skip
    logging.getLogger("uvicorn.error").addFilter(_no_idle_connection_error)
    thread = threading.Thread(target=runner.run, name=f"{node.name}-runner", daemon=True)
    home.pid_file.write_text(str(os.getpid()))
    thread.start()
    log.info("%s: node %s serves %s with %d asset(s)%s; log in %s", node.name, node.address,
             node.endpoint, len(node.assets),
             ", auto-enrolling" if runner.auto_enroll else "", home.log_file)  # fmt: skip
    # once shut down, uvicorn raises the stop signal again to the handler from before it ran:
    # a no-op, so that the clean-up below runs (the default would end the process at once)
    before = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run(sockets=[listener])  # returns on SIGTERM / SIGINT
    finally:
        runner.stop()
        thread.join(timeout=10)
        state.close()
        home.pid_file.unlink(missing_ok=True)
        log.info("%s: stopped", node.name)
        for sig, handler in before.items():
            signal.signal(sig, handler)


def _no_idle_connection_error(record: logging.LogRecord) -> bool:
    """Drops uvicorn's error for a stop that waited out its grace with no request running:
    only idle peers' TLS connections were left, and nothing was lost."""
    return not (
        record.name == "uvicorn.error" and "graceful shutdown exceeded" in str(record.msg)
        and record.args == (0,)
    )  # fmt: skip


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
