"""A node with data on the embedded chain, and its dashboard served by the node's own app
(`dain.node.create_app` with the dashboard's router added, as `dain node start` does)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from dain.data import ConsentPolicy, load_bundled
from dain.devnet import Devnet
from dain.learning import ModelSpec, TrainConfig, init_params
from dain.ledger import TOKEN_UNIT, JobTerms
from dain.node import JobSpec, Node, create_app
from dain.storage import encode_tensors
from dain.web import PREFIX, dashboard

TOKEN = "a-test-access-token-of-enough-length"


@dataclass
class OwnerNet:
    """A hospital node with two assets: `used` took part in a finished one-round job
    (`done_job`) and in round 1 of a running two-round job (`running_job`), beside a
    clinic's asset; `idle` in none."""

    net: Devnet
    hospital: Node
    requester: Node
    used: int
    idle: int
    done_job: int
    running_job: int


def _job(net: Devnet, requester: Node, rounds: int, seed: int) -> int:
    spec = JobSpec(f"web{seed}", ModelSpec("logreg", 30, 2), TrainConfig(0.1, 1, 32), seed=seed)
    model = encode_tensors(init_params(spec.model, seed))
    terms = JobTerms("diagnosis", rounds, TOKEN_UNIT, requester.blobs.put(spec.to_bytes()),
                     requester.blobs.put(model))  # fmt: skip
    job_id = requester.ledger.propose_job(terms)
    net.pass_proposal(requester.ledger.gov.propose_job_approval(job_id), list(net.nodes.values()))
    return job_id


def owner_net() -> OwnerNet:
    net = Devnet()
    requester = net.add_node("researcher", tokens=20_000)
    hospital = net.add_node("hospital", tokens=10_000)
    clinic = net.add_node("clinic", tokens=10_000)
    data = load_bundled("breast_cancer")
    third = len(data.y) // 3
    used = hospital.register_asset(
        data.subset(list(range(third))), "wards", ConsentPolicy(("diagnosis",))
    )
    idle = hospital.register_asset(
        data.subset(list(range(third, 2 * third))), "archive",
        ConsentPolicy(("diagnosis", "research"), price_per_round=TOKEN_UNIT // 10,
                      max_epsilon=4.0, secure_aggregation=True),
    )  # fmt: skip
    done_job = _job(net, requester, 1, 1)
    running_job = _job(net, requester, 2, 2)
    other = clinic.register_asset(
        data.subset(list(range(2 * third, len(data.y)))), "clinic", ConsentPolicy(("diagnosis",))
    )
    clinic.enroll(running_job, other)
    for job_id in (done_job, running_job):
        hospital.enroll(job_id, used)
        requester.ledger.jobs.start(job_id)
        net.run_round(job_id, 1)
    requester.ledger.jobs.complete(done_job)
    return OwnerNet(net, hospital, requester, used, idle, done_job, running_job)


def client_for(node: Node, token: str = TOKEN) -> TestClient:
    app = create_app(node.dispatcher, f"dain node {node.name}")
    app.include_router(dashboard(node, token))
    return TestClient(app, base_url="http://127.0.0.1:8600", follow_redirects=False)


def log_in(client: TestClient, token: str = TOKEN) -> str:
    """Logs in; returns the session's CSRF token, read from a page's log-out form (the
    login page's: it reads nothing from the chain)."""
    answer = client.post(f"{PREFIX}/login", data={"token": token})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"{PREFIX}/data"
    return csrf_of(client.get(f"{PREFIX}/login").text)


def csrf_of(html: str) -> str:
    marker = 'name="csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


@pytest.fixture(scope="module")
def shared() -> OwnerNet:
    """One network for tests that only read."""
    return owner_net()


@pytest.fixture
def fresh() -> Callable[[], OwnerNet]:
    """A network of its own, for a test that acts."""
    return owner_net


# the browser tests' fixtures (a cluster of node processes on anvil, Chromium, output folders)
from tests.web.browser import chromium, results, world  # noqa: E402, F401
