"""Real node processes on 127.0.0.1 with anvil: jobs complete with correct DataUsed events,
and the network survives participants and aggregators killed by pid, and restarts.

The tests share one network (starting it costs seconds), but none depends on another: each
begins with every node up, and kills what it needs killed itself."""

from __future__ import annotations

import hashlib
import sqlite3
import ssl
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from dain.data import AssetManifest, ConsentPolicy
from dain.devnet.cluster import HOSPITALS, RESEARCHER, Cluster
from dain.devnet.cluster_story import member_ledger
from dain.devnet.home import admit_founder, treasury_ledger
from dain.devnet.network import pass_proposal
from dain.identity import Identity
from dain.learning import ModelSpec, TrainConfig, init_params
from dain.ledger import TOKEN_UNIT, JobStatus, JobTerms, Ledger
from dain.ledger.anvil import stop_pid
from dain.node import blob_request
from dain.node.clock import ChainClock
from dain.node.home import NodeHome
from dain.node.network_home import NetworkHome
from dain.node.spec import JobSpec
from dain.node.tls import certificate_der, create_certificate, fingerprint
from dain.storage import FileBlobStore, cid_of, encode_tensors
from tests.node.tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow
ROUND_SECONDS = 8  # short deadlines, so failover happens within the test


class Net:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.root = treasury_ledger(cluster.home, cluster.password)
        self.ledgers = {n.name: member_ledger(cluster, n.name, self.root) for n in cluster.nodes()}
        self.assets = {}
        for name in (n for n in HOSPITALS if n in self.ledgers):
            with cluster.node(name).client() as client:
                status = client.get("/status").json()
            self.assets[name] = int(status["assets"][0], 16)

    def name_of(self, address: str) -> str:
        return next(n for n, ledger in self.ledgers.items() if ledger.address == address)

    def start_job(
        self, hospitals: list[str], rounds: int, extra: list[tuple[Ledger, int]] = ()
    ) -> int:
        researcher = self.ledgers[RESEARCHER]
        spec = JobSpec("test", ModelSpec("logreg", 30, 2), TrainConfig(0.1, 1, 16), seed=3)
        blobs = FileBlobStore(NodeHome(Path(self.cluster.node(RESEARCHER).home)).blobs)
        model_cid = blobs.put(encode_tensors(init_params(spec.model, 3)))
        spec_cid = blobs.put(spec.to_bytes())
        terms = JobTerms(
            "diagnosis", rounds, 10 * TOKEN_UNIT, spec_cid, model_cid, round_duration=ROUND_SECONDS
        )
        job_id = researcher.propose_job(terms)
        proposal = researcher.gov.propose_job_approval(job_id)
        assert pass_proposal(self.root, proposal, list(self.ledgers.values())).name == "EXECUTED"
        for name in hospitals:
            self.ledgers[name].jobs.enroll(job_id, self.assets[name])
        for ledger, asset in extra:  # members outside the devnet's processes
            ledger.jobs.enroll(job_id, asset)
        researcher.jobs.start(job_id)
        return job_id

    def wait_round(self, job_id: int, round_no: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.root.jobs.job(job_id).current_round < round_no:
            assert time.monotonic() < deadline, (
                f"job {job_id} stalled before round {round_no}: {self.statuses()}"
            )
            time.sleep(0.2)

    def statuses(self) -> dict[str, object]:
        """What each live node says it is doing (for failure messages)."""
        found: dict[str, object] = {}
        for node in self.cluster.nodes():
            try:
                with node.client(timeout=2) as client:
                    found[node.name] = client.get("/status").json()
            except httpx.HTTPError as exc:
                found[node.name] = f"down ({type(exc).__name__})"
        return found

    def users(self, job_id: int, round_no: int) -> set[str]:
        return {
            self.name_of(u.owner)
            for u in self.root.jobs.data_used(job_id=job_id)
            if u.round == round_no
        }

    def all_up(self) -> None:
        """Starts again every node an earlier test stopped."""
        for node in self.cluster.nodes():
            if not self.alive(node.name):
                self.cluster.restart(node.name)

    def alive(self, name: str) -> bool:
        try:
            with self.cluster.node(name).client(timeout=1) as client:
                return client.get("/health").status_code == 200
        except httpx.HTTPError:
            return False


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    cluster = Cluster(NetworkHome(tmp_path_factory.mktemp("cluster")))
    cluster.up(4)
    pids = [n.pid for n in cluster.nodes()]
    try:
        yield Net(cluster)
    finally:
        cluster.down()
        for pid in pids:
            stop_pid(pid)


@pytest.fixture(autouse=True)
def every_node_up(net: Net) -> None:
    net.all_up()


def test_a_job_completes_across_processes_with_correct_data_used(net: Net) -> None:
    hospitals = list(HOSPITALS[:4])
    job_id = net.start_job(hospitals, rounds=3)

    net.wait_round(job_id, 3)

    for round_no in (1, 2, 3):
        assert net.users(job_id, round_no) == set(hospitals)
    aggregators = {net.root.jobs.round_record(job_id, r).aggregator for r in (1, 2, 3)}
    assert aggregators <= {net.ledgers[h].address for h in hospitals}
    assert net.root.jobs.job(job_id).status == JobStatus.RUNNING  # the requester completes it


def test_bad_input_is_refused_over_http_and_the_node_stays_up(net: Net) -> None:
    with net.cluster.node(HOSPITALS[0]).client() as node:  # HTTPS, pinned
        garbage = node.post("/updates", content=b"{not json")
        huge = node.post("/blobs", content=b"\0" * (16 * 2**20 + 1))
        anonymous = node.post("/blobs", content=b"\x10\0\0\0\0\0\0\0garbage!")
        unknown = cid_of(b"a blob nobody stored")  # a well-formed content id, held nowhere
        researcher = net.ledgers[RESEARCHER]
        signed = blob_request(researcher.identity, researcher.chain_id, unknown, 1)
        unknown_blob = node.get(f"/blobs/{unknown}", headers=signed)

        assert garbage.status_code == 401 and "not JSON" in garbage.json()["error"]
        assert huge.status_code == 413
        assert anonymous.status_code == 401 and "no signed envelope" in anonymous.json()["error"]
        assert unknown_blob.status_code == 404
        # 190 kB of nesting overflowed the JSON parser's stack and killed the process
        deep = b"[" * 95_000 + b"]" * 95_000
        assert node.post("/updates", content=deep).status_code == 401
        # a head that large never reaches dain: uvicorn's h11 refuses it past 16 KiB (400)
        deep_header = node.get(f"/blobs/{unknown}", headers={"x-dain-envelope": deep.decode()})
        assert deep_header.status_code in (400, 401)
        assert node.get("/health").status_code == 200
        assert node.get("/openapi.json").json()["paths"]["/updates"]


def test_every_node_serves_https_with_the_certificate_its_member_published(net: Net) -> None:
    for node in net.cluster.nodes():
        home = NodeHome(Path(node.home))
        published = net.root.registry.member(node.address)

        assert published.endpoint == node.endpoint and node.endpoint.startswith("https://")
        assert published.tls_fingerprint == fingerprint(certificate_der(home.tls_certificate))
        assert stat.S_IMODE(home.tls_key.stat().st_mode) == 0o600
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{node.endpoint}/health")  # no certificate authority vouches for it
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{node.port}/health")  # and it speaks no plain HTTP


def test_a_killed_participant_is_left_out_and_the_job_goes_on(net: Net) -> None:
    hospitals = list(HOSPITALS[:4])
    job_id = net.start_job(hospitals, rounds=3)
    net.wait_round(job_id, 1)
    victim = HOSPITALS[3]

    net.cluster.kill(victim)  # SIGKILL by pid, mid-job
    net.wait_round(job_id, 3, timeout=120)

    assert victim in net.users(job_id, 1)
    later = net.users(job_id, 3)
    assert victim not in later and later == set(hospitals) - {victim}


def test_a_killed_aggregator_is_replaced_after_the_deadline(net: Net) -> None:
    # with one enrolled participant down, each aggregator waits half its window for it;
    # that leaves time to kill the elected aggregator before it records the round
    hospitals = list(HOSPITALS[:4])
    net.cluster.kill(hospitals[3])
    live = hospitals[:3]
    job_id = net.start_job(hospitals, rounds=1)
    clock = ChainClock(net.root.pending_time)
    deadline = time.monotonic() + 3 * ROUND_SECONDS
    while True:  # if the node killed earlier is elected, failover soon elects a live one
        elected = net.name_of(net.root.jobs.aggregator_at(job_id, 1, clock.now()))
        if elected in live:
            break
        assert time.monotonic() < deadline, "failover never reached a live node"
        time.sleep(0.1)
    net.cluster.kill(elected)

    net.wait_round(job_id, 1, timeout=90)

    record = net.root.jobs.round_record(job_id, 1)
    replacement = net.name_of(record.aggregator)
    assert replacement != elected and net.alive(replacement)
    assert net.users(job_id, 1) == set(live) - {elected}
    # the failover is charged to the aggregator that missed its deadline, on the spot
    assert net.root.jobs.reputation(net.ledgers[elected].address).aggregations_missed >= 1


def test_a_restarted_node_resumes_without_submitting_twice(net: Net) -> None:
    hospitals = list(HOSPITALS[:4])
    rounds = 40  # a round takes under half a second; a restart, a few seconds
    job_id = net.start_job(hospitals, rounds=rounds)
    net.wait_round(job_id, 1)
    node = HOSPITALS[0]

    net.cluster.restart(node)  # SIGKILL mid-job, then start again from its state database
    back_at = net.root.jobs.job(job_id).current_round
    net.wait_round(job_id, rounds, timeout=120)

    took_part = [r for r in range(1, rounds + 1) if node in net.users(job_id, r)]
    assert took_part[0] == 1 and took_part[-1] == rounds > back_at  # before and after
    db = sqlite3.connect(Path(net.cluster.node(node).home) / "state.db")
    trained = db.execute(
        "SELECT round, COUNT(*) FROM updates WHERE job_id = ? GROUP BY round", (job_id,)
    ).fetchall()
    assert all(count == 1 for _, count in trained)  # never trained twice for a round
    rows = db.execute("SELECT round FROM deliveries WHERE job_id = ?", (job_id,)).fetchall()
    with net.cluster.node(node).client() as client:
        status = client.get("/status").json()
    # the restarted process found round 1 in its database and did not send it again: all it
    # sent since are deliveries of later rounds
    assert (1,) in rows
    assert 0 < status["updates_delivered"] <= sum(1 for (r,) in rows if r > 1)


def test_a_node_whose_chain_goes_away_says_so_and_carries_on(net: Net) -> None:
    name = HOSPITALS[0]
    home = NodeHome(Path(net.cluster.node(name).home))
    settings = home.config_file.read_text()
    chain = net.cluster.home.read_chain()
    assert chain is not None
    proxy = TcpProxy(chain.port)

    def health() -> int:
        with net.cluster.node(name).client(timeout=5) as client:
            return client.get("/health").status_code

    def status() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "dain", "node", "status", "--home",
                               str(home.root)], capture_output=True, text=True, timeout=60)

    try:
        home.config_file.write_text(settings.replace(chain.url, proxy.url))
        net.cluster.restart(name)
        _until(lambda: net.alive(name), f"{name} to start behind the proxy")
        assert status().returncode == 0

        proxy.cut()
        _until(lambda: health() == 503, "the node to notice")
        cut = status()
        assert cut.returncode == 1 and "job runner is failing" in cut.stderr
        assert "Traceback" not in cut.stderr

        proxy.restore()
        _until(lambda: health() == 200, "the node to step again")
        assert status().returncode == 0
    finally:
        home.config_file.write_text(settings)
        net.cluster.restart(name)
        proxy.close()


def _until(condition, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


class _Liar(BaseHTTPRequestHandler):
    """A peer that answers every request slowly and with garbage."""

    def _answer(self) -> None:
        time.sleep(2)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"\x00\xffnot what you asked for")

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


def test_a_slow_garbage_peer_does_not_stall_the_others(net: Net, tmp_path: Path) -> None:
    # it serves HTTPS with a certificate of its own and publishes it: it passes the pin
    key, certificate = tmp_path / "liar.key", tmp_path / "liar.crt"
    tls_fingerprint = create_certificate(key, certificate, "127.0.0.1", "liar")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(certificate, key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Liar)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        liar = net.root.as_identity(Identity.create())
        admit_founder(net.root, liar.address, 10)
        liar.registry.register(f"https://127.0.0.1:{server.server_address[1]}", b"",
                               tls_fingerprint)  # fmt: skip
        liar_manifest = AssetManifest("liar's", ("x",), "y", ("0", "1"), 100,
                                      hashlib.sha256(b"liar").hexdigest())  # fmt: skip
        liar_asset = liar.assets.register(liar_manifest, "m", ConsentPolicy(("diagnosis",)), "p")
        honest = list(HOSPITALS[:3])
        missed = {h: _missed(net, h) for h in honest}
        job_id = net.start_job(honest, rounds=3, extra=[(liar, liar_asset)])

        net.wait_round(job_id, 3, timeout=120)

        for round_no in (1, 2, 3):
            assert net.users(job_id, round_no) == set(honest)
        aggregators = {net.root.jobs.round_record(job_id, r).aggregator for r in (1, 2, 3)}
        assert liar.address not in aggregators
        # the liar never made an honest aggregator miss its deadline (the chain counts
        # every failover against the aggregator that missed it)
        assert {h: _missed(net, h) for h in honest} == missed
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _missed(net: Net, name: str) -> int:
    return net.root.jobs.reputation(net.ledgers[name].address).aggregations_missed
