"""Operating a node (issue 13, points 2 and 5), as an operator does, with real processes on
anvil: `node init --keystore` keeps an existing key, `node start` logs each thing it does to
the console and to logs/node.log, `node status` is readable while a job runs, and a second
node on a port already taken is told which setting to change, before any password."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from dain.data import load_bundled
from dain.devnet.cluster import write_csv
from dain.devnet.home import admit_founder
from dain.devnet.network import pass_proposal
from dain.identity import Identity
from dain.learning import ModelSpec, TrainConfig, init_params
from dain.ledger import TOKEN_UNIT, JobTerms, Ledger, NetworkParams, RpcChain, deploy, free_port
from dain.ledger.anvil import AnvilProcess, stop_pid
from dain.node import JobSpec, NodeHome, home_client
from dain.storage import FileBlobStore, encode_tensors

pytestmark = pytest.mark.slow
PASSWORD = "node operator"
ROUNDS = 3


@dataclass
class Network:
    root: Path
    rpc: str
    deployment: Path
    treasury: Ledger

    def dain(self, *args: str, password: bool = True) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "DAIN_PASSWORD"}
        if password:
            env["DAIN_PASSWORD"] = PASSWORD
        return subprocess.run([sys.executable, "-m", "dain", *args], capture_output=True,
                              text=True, timeout=180, env=env,
                              stdin=subprocess.DEVNULL)  # fmt: skip

    def ok(self, *args: str) -> dict:
        done = self.dain(*args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def init(self, name: str, port: int, *extra: str) -> dict:
        return self.ok("node", "init", "--name", name, "--home", str(self.root / name),
                       "--port", str(port), "--rpc", self.rpc,
                       "--deployment", str(self.deployment), *extra)  # fmt: skip

    def member(self, tokens: int) -> Ledger:
        identity = Identity.create()
        admit_founder(self.treasury, identity.address, tokens)
        ledger = self.treasury.as_identity(identity)
        ledger.token.delegate()
        return ledger


@pytest.fixture
def network(anvil: AnvilProcess, tmp_path: Path) -> Network:
    chain = RpcChain(anvil.url)
    treasury = Identity.create()
    chain.fund(treasury.address, 10**20)
    params = NetworkParams(voting_delay=1, voting_period=5, quorum_percent=4,
                           token_supply=100_000 * TOKEN_UNIT)  # fmt: skip
    deployment = deploy(chain.web3, treasury, params, gas_limit=chain.gas_limit)
    deployment.save(tmp_path / "deployment.json")
    ledger = Ledger(chain, deployment, treasury)
    return Network(tmp_path, anvil.url, tmp_path / "deployment.json", ledger)


@pytest.fixture
def started() -> Iterator[list[int]]:
    """Pids of the node processes a test starts; each is stopped by its pid."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        stop_pid(pid, signal.SIGTERM)


def _start(home: Path, pids: list[int]) -> Path:
    console = home / "console.txt"
    with console.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "dain", "node", "start", "--home", str(home)],
            stdout=out, stderr=out, start_new_session=True, stdin=subprocess.DEVNULL,
            env=os.environ | {"DAIN_PASSWORD": PASSWORD},
        )  # fmt: skip
    pids.append(process.pid)
    return console


def _wait(what: str, ready: object, timeout: float = 120.0, console: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not ready():  # type: ignore[operator]
        seen = console.read_text() if console else ""
        assert time.monotonic() < deadline, f"waited too long for {what}\n{seen}"
        time.sleep(0.2)


def _healthy(home: Path) -> bool:
    try:
        with home_client(NodeHome(home), timeout=2) as client:
            return client.get("/health").status_code == 200
    except httpx.HTTPError:
        return False


def test_a_node_made_from_a_keystore_logs_a_whole_job_and_shows_it(
    network: Network, started: list[int]
) -> None:
    # an existing key, admitted before the node exists
    keystore = network.root / "mine.json"
    identity = Identity.create()
    identity.save_keystore(keystore, PASSWORD, scrypt_n=2**10)
    admit_founder(network.treasury, identity.address, tokens=1_000)
    port = free_port()
    created = network.init("clinic", port, "--keystore", str(keystore))
    assert created["address"] == identity.address
    home = network.root / "clinic"
    settings = (home / "node.toml").read_text()
    (home / "node.toml").write_text(
        settings.replace("allow_private_peers = false", "allow_private_peers = true")
        .replace("poll_seconds = 0.3", "poll_seconds = 0.1")
        .replace("enabled = false", "enabled = true")  # [auto_enroll]
    )
    write_csv(load_bundled("breast_cancer"), home / "records.csv")
    asset = network.ok("data", "register", str(home / "records.csv"), "--target", "diagnosis",
                       "--title", "clinic cases", "--purpose", "diagnosis",
                       "--home", str(home))["asset_id"]  # fmt: skip
    # the same rows again, under another name, would be counted and paid twice
    (home / "copy.csv").write_bytes((home / "records.csv").read_bytes())
    for again in ("records.csv", "copy.csv"):
        twice = network.dain("data", "register", str(home / again), "--target", "diagnosis",
                             "--title", "again", "--purpose", "diagnosis",
                             "--home", str(home))  # fmt: skip
        assert twice.returncode == 1 and "already registered here as asset" in twice.stderr
        assert asset in twice.stderr and "Traceback" not in twice.stderr
    # the requester runs no node: its spec and first model wait in the clinic's store
    spec = JobSpec("logged", ModelSpec("logreg", 30, 2), TrainConfig(0.1, 1, 16), seed=3)
    blobs = FileBlobStore(home / "blobs")
    terms = JobTerms("diagnosis", ROUNDS, 10 * TOKEN_UNIT, blobs.put(spec.to_bytes()),
                     blobs.put(encode_tensors(init_params(spec.model, 3))))  # fmt: skip
    requester = network.member(tokens=20_000)

    console = _start(home, started)
    _wait("the node to serve", lambda: _healthy(home), console=console)
    with home_client(NodeHome(home)) as client:
        assert client.get("/status").json()["address"] == identity.address  # the key given
    # node start serves the dashboard and says where, with its access token; dain ui too
    opened = network.dain("ui", "--no-browser", "--home", str(home))
    assert opened.returncode == 0, opened.stderr
    token = (home / "dashboard.token").read_text().strip()
    assert f"Access token: {token}" in opened.stdout and f":{port}/ui" in opened.stdout
    assert f"access token {token}" in console.read_text()

    # a second node on the port the first holds: told what to change, before any password
    network.init("clinic-2", port)
    clash = network.dain("node", "start", "--home", str(network.root / "clinic-2"),
                         password=False)  # fmt: skip
    assert clash.returncode == 1 and "Traceback" not in clash.stderr
    assert f"Port {port} is in use" in clash.stderr
    assert f"'port' in {network.root / 'clinic-2' / 'node.toml'}" in clash.stderr
    assert "--port" in clash.stderr and "password" not in clash.stderr.lower()

    job_id = requester.propose_job(terms)
    proposal = requester.gov.propose_job_approval(job_id)
    assert pass_proposal(network.treasury, proposal, [requester]).name == "EXECUTED"
    jobs = requester.jobs
    _wait("auto-enroll", lambda: jobs.enrolled(job_id) == [int(asset, 16)], console=console)
    jobs.start(job_id)
    _wait("the last round", lambda: jobs.job(job_id).current_round == ROUNDS, console=console)

    shown = network.dain("node", "status", "--home", str(home))
    data = network.ok("node", "status", "--home", str(home))
    stop_pid(started.pop(), signal.SIGTERM)

    assert shown.returncode == 0, shown.stderr
    assert "Node clinic" in shown.stdout and "chain time" in shown.stdout
    assert "ago)" in shown.stdout or "(now)" in shown.stdout  # an ISO date, and its age
    job_row = next(line for line in shown.stdout.splitlines() if f"│ {job_id} " in line)
    assert f"│ {ROUNDS} " in job_row and "this node" in job_row
    assert f"{ROUNDS} since the node started" in shown.stdout  # rounds aggregated
    assert data["jobs"][str(job_id)]["assets_taking_part"] == 1  # --json: the raw fields
    assert data["updates_delivered"] == ROUNDS and data["rounds_aggregated"] == ROUNDS
    assert isinstance(data["chain_time"], float)

    logged = (home / "logs" / "node.log").read_text()
    short = f"{int(asset, 16):#066x}"[:14]
    expected = [
        f"node {identity.address} serves https://127.0.0.1:{port} with 1 asset(s), auto-enrolling",
        f"auto-enrolled asset {short}… in job {job_id} (purpose diagnosis, {ROUNDS} rounds, "
        "pool 10 DAIN)",
        f"taking part in job {job_id} (purpose diagnosis, round 1 of {ROUNDS}) with 1 asset(s)",
    ]
    for round_no in range(1, ROUNDS + 1):
        expected += [
            f"job {job_id}, round {round_no}: trained asset {short}… on ",
            f"job {job_id}, round {round_no}: delivered asset {short}…'s update to itself, "
            "the aggregator",
            f"job {job_id}, round {round_no}: aggregated 1 update(s) into model bafk",
            f"job {job_id}, round {round_no}: recorded in transaction 0x",
        ]
    expected += [f"job {job_id} is over: its last round is recorded", "clinic: stopped"]
    at = 0
    for line in expected:  # each once, in this order
        found = logged.find(line, at)
        assert found >= 0, f"{line!r} not logged after position {at}:\n{logged}"
        at = found
    assert "Traceback" not in logged and "ERROR" not in logged
    assert not (home / "node.pid").exists()  # SIGTERM let it clean up
    # the console says the same, one line per event
    shown_on_console = console.read_text()
    assert f"job {job_id}, round {ROUNDS}: recorded in transaction 0x" in shown_on_console
    for line in logged.splitlines():
        assert line.startswith("20"), line  # every line is an event with its date


def test_an_asset_whose_classes_the_job_does_not_know_is_not_enrolled(network: Network) -> None:
    """A target value the job's input schema never names would be trained as some other
    class: 'dain job enroll' refuses the asset, naming the value and the job's classes."""
    from dataclasses import replace

    import numpy as np

    from dain.data import CsvSchema

    network.init("clinic", free_port())
    home = network.root / "clinic"
    identity = Identity.load_keystore(home / "keystore.json", PASSWORD)
    admit_founder(network.treasury, identity.address, 10_000)
    data = load_bundled("breast_cancer").subset(range(60))
    odd = replace(data, y=np.where(np.arange(60) < 5, 2, data.y), classes=(*data.classes, "unsure"))
    write_csv(odd, home / "records.csv")
    asset = network.ok("data", "register", str(home / "records.csv"), "--target", "diagnosis",
                       "--title", "odd cases", "--purpose", "diagnosis",
                       "--home", str(home))["asset_id"]  # fmt: skip
    schema = CsvSchema(data.feature_names, "diagnosis", classes=data.classes)
    spec = JobSpec("strict", ModelSpec("logreg", 30, 2), TrainConfig(0.1, 1, 16), input=schema)
    blobs = FileBlobStore(home / "blobs")  # the spec is read from here: no requester node runs
    requester = network.member(tokens=20_000)
    job_id = requester.propose_job(JobTerms(
        "diagnosis", 1, TOKEN_UNIT, blobs.put(spec.to_bytes()),
        blobs.put(encode_tensors(init_params(spec.model, 0)))))  # fmt: skip
    assert pass_proposal(network.treasury, requester.gov.propose_job_approval(job_id),
                         [requester]).name == "EXECUTED"  # fmt: skip

    refused = network.dain("job", "enroll", str(job_id), "--asset", asset, "--home", str(home))

    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "does not fit job" in refused.stderr and "'unsure'" in refused.stderr
    assert "benign" in refused.stderr  # the job's classes, in the fix
    assert requester.jobs.enrolled(job_id) == []
