"""What `dain node status` shows while a node trains (issue 13, point 5: it showed
`assets_taking_part: 0`, or nothing, while training): the job's round, aggregator and assets
are published before the training starts, and 'training now' names it."""

from __future__ import annotations

import threading

from rich.console import Console

from dain.cli.node_view import chain_time, render, shorten_ids
from dain.data import ConsentPolicy, load_bundled
from dain.devnet import Devnet
from dain.learning import ModelSpec, TrainConfig, init_params
from dain.ledger import TOKEN_UNIT, JobTerms
from dain.node import JobSpec, NodeState, Request, Response
from dain.storage import encode_tensors


def test_status_while_training_shows_the_job_and_what_trains() -> None:
    net = Devnet()
    requester = net.add_node("researcher", tokens=20_000)
    hospital = net.add_node("hospital", tokens=10_000)
    spec = JobSpec("status", ModelSpec("logreg", 30, 2), TrainConfig(0.1, 1, 16), seed=1)
    terms = JobTerms("diagnosis", 2, TOKEN_UNIT, requester.blobs.put(spec.to_bytes()),
                     requester.blobs.put(encode_tensors(init_params(spec.model, 1))))  # fmt: skip
    job_id = requester.ledger.propose_job(terms)
    net.pass_proposal(requester.ledger.gov.propose_job_approval(job_id), list(net.nodes.values()))
    asset = hospital.register_asset(
        load_bundled("breast_cancer"), "a", ConsentPolicy(("diagnosis",))
    )
    hospital.enroll(job_id, asset)
    requester.ledger.jobs.start(job_id)
    # the hospital's training begins by fetching the job's first model from the requester
    # (its spec was read before, to check the asset fits): hold that answer, so the test
    # looks at the status in the middle of training
    asked, release = threading.Event(), threading.Event()

    def held(request: Request) -> Response:
        if terms.model_cid in request.path:
            asked.set()
            release.wait(60)
        return requester.handle(request)

    net.transport.register(requester.endpoint, held)
    runner = hospital.make_runner(NodeState(":memory:"))
    stepping = threading.Thread(target=runner.step)
    stepping.start()
    try:
        assert asked.wait(60), "the hospital never asked for the model"
        status = hospital.status()
    finally:
        release.set()
        stepping.join(60)

    assert status["training"] == f"job {job_id}, round 1, asset 0x{asset:064x}"
    assert status["jobs"][job_id] == {"round": 1, "aggregator": hospital.address,
                                      "assets_taking_part": 1}  # fmt: skip
    assert status["updates_delivered"] == 0  # not yet: it trains
    console = Console(width=120, record=True)
    render(status, console)
    shown = console.export_text()
    assert f"training now       job {job_id}, round 1, asset {f'{asset:#066x}'[:14]}…" in shown
    assert "this node" in shown and "0 since the node started, 0 in all" in shown
    assert runner.status.updates_delivered == 1 and runner.status.training == ""


def test_chain_time_reads_as_a_date_and_an_age() -> None:
    assert chain_time(1_700_000_000.0, now=1_700_000_042.0) == "2023-11-14T22:13:20Z (42 s ago)"
    assert chain_time(1_700_000_000.0, now=1_700_000_000.4) == "2023-11-14T22:13:20Z (now)"
    assert chain_time(1_700_000_600.0, now=1_700_000_000.0).endswith(
        "(10 min ahead of this computer)"
    )
    assert chain_time(None).startswith("unknown")


def test_long_ids_are_shortened_in_messages() -> None:
    asset = "ab" * 32
    assert shorten_ids(f"job 1, round 2, asset {asset}") == "job 1, round 2, asset 0xabababababab…"
    assert shorten_ids(f"0x{asset} sits out") == "0xabababababab… sits out"
    assert shorten_ids("0x1234 stays") == "0x1234 stays"
