"""A network of real processes on 127.0.0.1: anvil, and one `dain node start` per node,
each with its own home, key, TLS certificate, data file and HTTPS port. Everything is
stopped by pid."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import httpx
import numpy as np

from dain.data import AssetManifest, Dataset, load_csv
from dain.devnet.home import admit_founder, chain_down, chain_up, treasury_ledger
from dain.devnet.steps import HOSPITALS, RESEARCHER, consent_policy, hospital_data
from dain.errors import ConfigError
from dain.ledger import free_port, stop_pid
from dain.node import (
    NetworkHome,
    NodeConfig,
    NodeHome,
    StoredAsset,
    home_client,
    open_node,
    pid_alive,
    running_chain,
)

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
            return self._from_homes()

    def _from_homes(self) -> list[ClusterNode]:
        """The nodes of a devnet stopped before `down` kept the record: read back from
        their homes (the address is in each keystore, unencrypted)."""
        found = []
        for name in (*HOSPITALS, RESEARCHER):
            home = NodeHome(self.home.root / "nodes" / name)
            if home.config_file.exists() and home.keystore.exists():
                address = "0x" + json.loads(home.keystore.read_text())["address"]
                found.append(ClusterNode(name, str(home.root), home.config().port, address))
        return found if any(n.name == RESEARCHER for n in found) else []

    def node(self, name: str) -> ClusterNode:
        for node in self.nodes():
            if node.name == name:
                return node
        raise ConfigError(f"No node named {name} in this devnet.")

    def _save(self, nodes: list[ClusterNode]) -> None:
        self.record.write_text(json.dumps([asdict(n) for n in nodes], indent=2) + "\n")

    # ---- lifecycle ---------------------------------------------------------------

    def up(self, hospitals: int | None = None, block_time: int = 0) -> list[ClusterNode]:
        """Chain, keys, admissions, data assets and one process per node (`hospitals`
        hospitals, 4 unless told); or, for a devnet that was stopped, its chain and node
        processes again, as they were. `block_time` as in `chain_up`."""
        if self.running():
            raise ConfigError(
                f"A devnet already runs in {self.home.root}.", hint="'dain devnet down' first."
            )
        stopped = self.nodes()
        if stopped and hospitals not in (None, len(stopped) - 1):
            raise ConfigError(
                f"The devnet in {self.home.root} has {len(stopped) - 1} hospital nodes, "
                f"not {hospitals}.",
                hint="Start it again without --nodes, or give a new devnet another --home.",
            )
        hospitals = 4 if hospitals is None else hospitals
        if not 1 <= hospitals <= len(HOSPITALS):
            raise ConfigError(
                f"A devnet has 1 to {len(HOSPITALS)} hospital nodes, not {hospitals}."
            )
        record, _, _ = chain_up(self.home, 0, self.password, block_time)
        try:
            if stopped:
                return self._restart(stopped, record.url)
            return self._populate(hospitals, record.url)
        except BaseException:  # a network half up is stopped whole: nothing left running
            self.down()
            raise

    def running(self) -> bool:
        """Whether any of the devnet's processes runs: its chain or a node."""
        return running_chain(self.home) is not None or any(
            node.pid and pid_alive(node.pid) for node in self.nodes()
        )

    def require_running(self) -> None:
        if running_chain(self.home) is None or not self.nodes():
            raise ConfigError(
                f"No devnet runs in {self.home.root}.", hint="Start it with 'dain devnet up'."
            )

    def _restart(self, nodes: list[ClusterNode], rpc: str) -> list[ClusterNode]:
        """The stopped devnet's nodes on the chain as it now runs (anvil took a free port),
        each on its old port if still free: a node publishes a new endpoint as it starts."""
        for node in nodes:
            home = NodeHome(Path(node.home))
            config = home.config()
            node.port = config.port if _free(config.port) else free_port()
            home.config_file.write_text(replace(config, rpc=rpc, port=node.port).to_toml())
        for node in nodes:
            node.pid = self._spawn(node)
            self._save(nodes)  # at once: `down` stops by the pids recorded here
        self.wait_healthy(nodes)
        return nodes

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
        """Stops every node process and the chain, each by its pid; the record stays, with
        no pids, so `up` starts the same devnet again. The names of the nodes stopped."""
        nodes = self.nodes()
        stopped = []
        for node in nodes:
            if node.pid:  # 0: not running
                stop_pid(node.pid, signal.SIGTERM)
                stopped.append(node.name)
                node.pid = 0
        if nodes:
            self._save(nodes)
        chain_down(self.home)
        return stopped


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
