"""The network the Jobs pages are tested on: `owner_net` (a finished job and a running one,
round 1 of 2 recorded) plus a differentially private job with one round recorded and
scored (the requester's own rows and the hospital's report), and an approved job with an
enrolled asset, ready to start. Also a real HTTP server for the live stream."""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import uvicorn
from fastapi import APIRouter, FastAPI

from dain.data import Dataset, load_bundled
from dain.learning import ModelSpec, TrainConfig, feature_statistics, init_params
from dain.learning.privacy import PrivacyLevel, PrivacySpec
from dain.ledger import TOKEN_UNIT, JobTerms
from dain.node import JobSpec, Node, create_app
from dain.storage import encode_tensors
from dain.web.access import Access
from dain.web.jobs import router as jobs_router
from dain.web.jobs_live import Live
from dain.web.login import router as login_router
from dain.web.site import Site
from tests.web.conftest import TOKEN, OwnerNet, owner_net

RECORD = PrivacySpec(PrivacyLevel.RECORD, 1.0, 0.5, 1e-5, sample_rate=0.1, steps=6)


@dataclass
class JobsNet:
    owners: OwnerNet
    private_job: int  # 2 rounds, epsilon bound 10, round 1 recorded and scored (0: none)
    approved_job: int  # approved, the hospital's asset enrolled, not started


def _write_csv(path: Path, data: Dataset) -> Path:
    """The requester's evaluation rows: features, then the label as its class index."""
    header = ",".join([*(f.replace(",", " ") for f in data.feature_names), "label"])
    table = np.column_stack([data.x, data.y]).astype(object)
    table[:, -1] = data.y.astype(int)
    np.savetxt(path, table, delimiter=",", header=header, comments="", fmt="%s")
    return path


def _propose(n: OwnerNet, spec: JobSpec, rounds: int, max_epsilon: float | None) -> int:
    requester = n.requester
    terms = JobTerms("diagnosis", rounds, TOKEN_UNIT, requester.blobs.put(spec.to_bytes()),
                     requester.blobs.put(encode_tensors(init_params(spec.model, spec.seed))),
                     max_epsilon=max_epsilon)  # fmt: skip
    job_id = requester.ledger.propose_job(terms)
    n.net.pass_proposal(requester.ledger.gov.propose_job_approval(job_id),
                        list(n.net.nodes.values()))  # fmt: skip
    n.hospital.enroll(job_id, n.used)
    return job_id


def score(n: OwnerNet, job_id: int) -> None:
    """What the nodes' runners do after a round: the hospital reports, the requester scores."""
    n.hospital.evaluation.step([job_id])
    n.requester.evaluation.step([])


def jobs_net(private: bool = True) -> JobsNet:
    n = owner_net()
    data = load_bundled("breast_cancer")
    mean, scale = feature_statistics(data.x)
    model = ModelSpec("logreg", 30, 2, (), mean, scale)
    approved = _propose(n, JobSpec("ready", model, TrainConfig(0.1, 1, 16), seed=8), 1, None)
    if not private:
        return JobsNet(n, 0, approved)
    private_job = _propose(n, JobSpec("private", model, TrainConfig(0.1, 1, 16), seed=7,
                                      privacy=RECORD), 2, 10.0)  # fmt: skip
    n.requester.ledger.jobs.start(private_job)
    folder = Path(tempfile.mkdtemp(prefix="dain-jobs-"))
    own = data.subset(list(range(0, len(data.y), 5)))
    n.requester.set_evaluation(private_job, _write_csv(folder / "eval.csv", own), "label")
    n.net.run_round(private_job, 1)
    score(n, private_job)
    return JobsNet(n, private_job, approved)


def app_for(node: Node, live: Live | None = None) -> FastAPI:
    """The node's app with the login and Jobs routes, the stream's timings as given."""
    site = Site(node, Access(TOKEN))
    routes = APIRouter(prefix=site.prefix)
    routes.include_router(login_router(site))
    routes.include_router(jobs_router(site, live))
    app = create_app(node.dispatcher, f"dain node {node.name}")
    app.include_router(routes)
    return app


@contextmanager
def serving(app: FastAPI) -> Iterator[tuple[str, uvicorn.Server]]:
    """The app on a real server at 127.0.0.1 (a free port), stopped on the way out."""
    sock = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", server
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        assert not thread.is_alive(), "the server did not stop"
