"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright, against
real node processes on anvil (`dain.devnet.Cluster`: one `dain node start` per member, each
serving its dashboard on its own HTTPS address). Each test keeps screenshots in its output
folder, test-results/<test>/ (Playwright's convention), for a person to look at."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from dain.data import format_asset_id
from dain.devnet.cluster import HOSPITALS, RESEARCHER, Cluster
from dain.devnet.cluster_story import member_ledger
from dain.devnet.home import treasury_ledger
from dain.devnet.network import pass_proposal
from dain.learning import ModelSpec, TrainConfig, init_params
from dain.ledger import TOKEN_UNIT, JobTerms, Ledger, Proposal, stop_pid
from dain.node import NetworkHome, NodeHome
from dain.node.spec import JobSpec
from dain.storage import FileBlobStore, encode_tensors
from dain.web import PREFIX, read_token

RESULTS = Path(__file__).resolve().parents[2] / "test-results"
OWNERS = HOSPITALS[:3]


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:  # `make test` installs it; a missing browser is a failure, not a skip
        pytest.fail("Chromium is not installed: run 'make test' (it runs 'apt-get install "
                    "chromium'), or install Debian's chromium package yourself.")  # fmt: skip
    return found


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def results(request: pytest.FixtureRequest) -> Path:
    """This test's output folder."""
    folder = RESULTS / re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.nodeid).strip("-")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class World:
    """The cluster as the tests use it: each member's ledger (its own key), its assets, and
    its dashboard's address and access token."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.root = treasury_ledger(cluster.home, cluster.password)
        self.ledgers = {n.name: member_ledger(cluster, n.name, self.root) for n in cluster.nodes()}
        researcher = self.ledgers[RESEARCHER]
        researcher.token.delegate()  # the hospitals did as they came up: together, a quorum
        self.assets: dict[str, int] = {}
        for name in OWNERS:
            with cluster.node(name).client() as client:
                self.assets[name] = int(client.get("/status").json()["assets"][0], 16)

    def url(self, name: str, path: str = "") -> str:
        return f"{self.cluster.node(name).endpoint}{PREFIX}{path}"

    def home(self, name: str) -> Path:
        return Path(self.cluster.node(name).home)

    def token(self, name: str) -> str:
        token = read_token(self.home(name))
        assert token, f"{name}'s node issued no dashboard token"
        return token

    def page(self, browser: Browser, name: str) -> Page:
        """A new browser session on `name`'s dashboard, logged in with its access token."""
        context = browser.new_context(ignore_https_errors=True)  # each node's own certificate
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(self.url(name, "/login"))
        page.get_by_label("Access token").fill(self.token(name))
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(re.escape(self.url(name, "/data"))))
        return page

    def propose(self, rounds: int, seed: int) -> tuple[int, Proposal]:
        """A job of the researcher's (terms, spec and model in its node's blob store, where
        its process serves them) and the proposal that would approve it."""
        researcher = self.ledgers[RESEARCHER]
        spec = JobSpec(f"browser{seed}", ModelSpec("logreg", 30, 2), TrainConfig(0.1, 1, 16),
                       seed=seed)  # fmt: skip
        blobs = FileBlobStore(NodeHome(self.home(RESEARCHER)).blobs)
        model = blobs.put(encode_tensors(init_params(spec.model, seed)))
        terms = JobTerms("diagnosis", rounds, 30 * TOKEN_UNIT, blobs.put(spec.to_bytes()), model,
                         round_duration=30)  # fmt: skip
        job_id = researcher.propose_job(terms)
        return job_id, researcher.gov.propose_job_approval(job_id)

    def propose_with_cli(self, rounds: int) -> tuple[int, Proposal]:
        """A job the researcher proposes as a user does, with `dain job propose` and a job
        file whose [evaluation] rows its running node scores every round's model on."""
        home = self.home(RESEARCHER)
        job_file = home / "data" / "live.toml"
        job_file.write_text(
            f'title = "Live curve"\npurpose = "diagnosis"\nrounds = {rounds}\n'
            'round_duration = 30\npool = "30 DAIN"\n\n[model]\nkind = "logreg"\n\n'
            "[training]\nlearning_rate = 0.1\nbatch_size = 16\n\n"
            '[evaluation]\ncsv = "test.csv"\ntarget = "diagnosis"\n'
        )
        proposed = json.loads(self.dain("job", "propose", str(job_file), "--home", str(home),
                                        "--json"))  # fmt: skip
        return proposed["job_id"], self.root.gov.proposal(int(proposed["proposal_id"]))

    def approve(self, proposal: Proposal, voters: list[str]) -> None:
        voting = [self.ledgers[name] for name in voters]
        assert pass_proposal(self.root, proposal, voting).name == "EXECUTED"

    def enroll_all(self, job_id: int) -> None:
        """Every owner's asset whose consent is live (an earlier test may have revoked one)."""
        for name in OWNERS:
            if not self.root.assets.policy(self.assets[name]).revoked:
                self.ledgers[name].jobs.enroll(job_id, self.assets[name])

    def wait(self, what: str, done: Callable[[], bool], timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.2)

    def wait_round(self, job_id: int, round_no: int) -> None:
        jobs = self.root.jobs
        self.wait(f"job {job_id} round {round_no}",
                  lambda: jobs.job(job_id).current_round >= round_no)  # fmt: skip

    def dain(self, *args: str) -> str:
        """The CLI, as a user runs it, in its own process (with the devnet's password)."""
        password = {"DAIN_PASSWORD": self.cluster.password}
        done = subprocess.run([sys.executable, "-m", "dain", *args], capture_output=True,
                              text=True, timeout=120, env=os.environ | password)  # fmt: skip
        assert done.returncode == 0, done.stderr + done.stdout
        return done.stdout

    def asset_hex(self, name: str) -> str:
        return format_asset_id(self.assets[name])

    def researcher(self) -> Ledger:
        return self.ledgers[RESEARCHER]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    cluster = Cluster(NetworkHome(tmp_path_factory.mktemp("browser")))
    cluster.up(len(OWNERS))
    pids = [n.pid for n in cluster.nodes()]
    try:
        yield World(cluster)
    finally:
        cluster.down()
        for pid in pids:
            stop_pid(pid)
