"""A network of real processes on 127.0.0.1: anvil, and one `dain node start` per node,
each with its own home, key, TLS certificate, data file and HTTPS port. Everything is
stopped by pid."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import numpy as np

from dain.data import AssetManifest, Dataset, load_csv
from dain.devnet.home import admit_founder, chain_down, chain_up, treasury_ledger
from dain.devnet.steps import HOSPITALS, RESEARCHER, consent_policy, hospital_data
from dain.errors import ConfigError
from dain.ledger import free_port, stop_pid
from dain.node import NetworkHome, NodeConfig, NodeHome, StoredAsset, home_client, open_node

__all__ = ["HOSPITALS", "RESEARCHER", "Cluster", "ClusterNode"]

DEVNET_SCRYPT_N = 2**14  # a local test network: keys open fast; real nodes keep the default
SHARES_SEED = 7


@dataclass
class ClusterNode:
    name: str
    home: str
    port: int
    address: str
    pid: int = 0

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def client(self, timeout: float = 10.0) -> httpx.Client:
        """An HTTPS client for this node that trusts the certificate in its home (the
        orchestrator's own node: peers pin the fingerprint on chain instead)."""
        return home_client(NodeHome(Path(self.home)), timeout)


def write_csv(dataset: Dataset, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*dataset.feature_names, "diagnosis"])
        for row, label in zip(dataset.x, dataset.y, strict=True):
            writer.writerow([*(f"{v:.6g}" for v in row), dataset.classes[label]])


class Cluster:
    def __init__(
        self, home: NetworkHome, password: str = "devnet", poll_seconds: float = 0.1
    ) -> None:
        self.home = home
        self.password = password
        self.poll_seconds = poll_seconds  # nodes on one machine can afford to poll often

    @property
    def record(self) -> Path:
        return self.home.root / "cluster.json"

    def nodes(self) -> list[ClusterNode]:
        try:
            return [ClusterNode(**n) for n in json.loads(self.record.read_text())]
        except FileNotFoundError:
            return []

    def node(self, name: str) -> ClusterNode:
        for node in self.nodes():
            if node.name == name:
                return node
        raise ConfigError(f"No node named {name} in this devnet.")

    def _save(self, nodes: list[ClusterNode]) -> None:
        self.record.write_text(json.dumps([asdict(n) for n in nodes], indent=2) + "\n")

    # ---- lifecycle ---------------------------------------------------------------

    def up(self, hospitals: int = 4) -> list[ClusterNode]:
        """Chain, keys, admissions, data assets and one process per node."""
        if not 1 <= hospitals <= len(HOSPITALS):
            raise ConfigError(
                f"A devnet has 1 to {len(HOSPITALS)} hospital nodes, not {hospitals}."
            )
        if self.nodes():
            raise ConfigError(
                f"A devnet already exists in {self.home.root}.", hint="'dain devnet down' first."
            )
        record, _, _ = chain_up(self.home, 0, self.password)
        try:
            return self._populate(hospitals, record.url)
        except BaseException:  # a network half made is stopped whole: nothing left running
            self.down()
            raise

    def _populate(self, hospitals: int, rpc: str) -> list[ClusterNode]:
        treasury = treasury_ledger(self.home, self.password)
        shares = np.random.default_rng(SHARES_SEED).dirichlet(np.full(hospitals, 4.0))
        _, test, local = hospital_data(HOSPITALS[:hospitals], shares, SHARES_SEED)
        nodes = []
        for name in (*HOSPITALS[:hospitals], RESEARCHER):
            home = NodeHome(self.home.root / "nodes" / name)
            config = NodeConfig(
                name=name,
                port=free_port(),
                rpc=rpc,
                deployment=str(self.home.deployment),
                poll_seconds=self.poll_seconds,
                train_threads=max(1, (os.cpu_count() or 1) // (hospitals + 1)),
                allow_private_peers=True,  # every node of a devnet is on 127.0.0.1
            )
            identity = home.init(config, self.password, scrypt_n=DEVNET_SCRYPT_N)
            admit_founder(
                treasury, identity.address, tokens=20_000 if name == RESEARCHER else 10_000
            )
            nodes.append(ClusterNode(name, str(home.root), config.port, identity.address))
        write_csv(test, self.home.root / "nodes" / RESEARCHER / "data" / "test.csv")
        for node in nodes[:hospitals]:
            self._register_data(node, local[node.name])
        for node in nodes:
            node.pid = self._spawn(node)
            self._save(nodes)  # at once: `down` stops by the pids recorded here
        self.wait_healthy(nodes)
        return nodes

    def _register_data(self, node: ClusterNode, dataset: Dataset) -> None:
        path = Path(node.home) / "data" / "records.csv"
        write_csv(dataset, path)
        local = load_csv(path, "diagnosis")  # exactly what the node will read
        opened, state = open_node(NodeHome(Path(node.home)), self.password)
        opened.ledger.token.delegate()
        manifest, salt = AssetManifest.describe(local, f"{node.name} breast-cancer cases")
        policy = consent_policy(node.name)
        asset_id = opened.ledger.assets.register(
            manifest,
            opened.blobs.put(manifest.to_json()),
            policy,
            opened.blobs.put(policy.document()),
        )
        state.add_asset(StoredAsset(asset_id, manifest.title, path, "diagnosis", salt, policy))
        state.close()

    def _spawn(self, node: ClusterNode) -> int:
        log = open(Path(node.home) / "node.log", "ab")  # noqa: SIM115 - the child keeps it
        process = subprocess.Popen(
            [sys.executable, "-m", "dain", "node", "start", "--home", node.home],
            stdout=log, stderr=log, start_new_session=True,
            env=os.environ | {"DAIN_PASSWORD": self.password},
        )  # fmt: skip
        log.close()
        return process.pid

    def wait_healthy(self, nodes: list[ClusterNode], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        waiting = list(nodes)
        while waiting and time.monotonic() < deadline:
            for node in list(waiting):
                try:
                    with node.client(timeout=1) as client:
                        if client.get("/health").status_code == 200:
                            waiting.remove(node)
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        if waiting:
            raise ConfigError(
                f"Nodes did not come up: {', '.join(n.name for n in waiting)}.",
                hint=f"See node.log in their homes under {self.home.root / 'nodes'}.",
            )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Stops one node process by its pid (SIGKILL: no chance to clean up)."""
        stop_pid(self.node(name).pid, sig)

    def restart(self, name: str, sig: int = signal.SIGKILL) -> ClusterNode:
        """Stops a node (by default as a crash: SIGKILL) and starts it again on its home."""
        nodes = self.nodes()
        node = next(n for n in nodes if n.name == name)
        stop_pid(node.pid, sig)
        node.pid = self._spawn(node)
        self._save(nodes)
        self.wait_healthy([node])
        return node

    def down(self) -> list[str]:
        stopped = []
        for node in self.nodes():
            if node.pid:  # 0: never started
                stop_pid(node.pid, signal.SIGTERM)
            stopped.append(node.name)
        self.record.unlink(missing_ok=True)
        chain_down(self.home)
        return stopped
