"""Auto-enroll (issue 13, point 2): a node that opts in enrolls its assets, once, in the
approved jobs each asset's own policy allows, found from JobApproved events; jobs for other
purposes or over the asset's epsilon stay out, and with the option off nothing is enrolled."""

from __future__ import annotations

import logging

import pytest

from dain.data import ConsentPolicy, CsvSchema, load_bundled
from dain.devnet import Devnet
from dain.learning import ModelSpec, TrainConfig, init_params
from dain.ledger import TOKEN_UNIT, JobStatus, JobTerms
from dain.node import JobSpec, Node, NodeState
from dain.node.auto_enroll import AutoEnroller, auto_enroller
from dain.node.home import AutoEnrollConfig
from dain.storage import encode_tensors

ON = AutoEnrollConfig(enabled=True)


class Network:
    """A requester and a hospital whose one asset allows diagnosis within epsilon 2."""

    def __init__(self, policy: ConsentPolicy | None = None) -> None:
        self.net = Devnet()
        self.requester = self.net.add_node("researcher", tokens=20_000)
        self.hospital = self.net.add_node("hospital", tokens=10_000)
        spec = JobSpec("auto", ModelSpec("logreg", 30, 2), TrainConfig(0.1, 1, 16), seed=1)
        blobs = self.requester.blobs
        self.spec_cid = blobs.put(spec.to_bytes())
        self.model_cid = blobs.put(encode_tensors(init_params(spec.model, 1)))
        policy = policy or ConsentPolicy(("diagnosis",), max_epsilon=2.0,
                                         price_per_round=TOKEN_UNIT // 10)  # fmt: skip
        self.asset = self.hospital.register_asset(load_bundled("breast_cancer"), "a", policy)

    def job(self, purpose: str = "diagnosis", *, approve: bool = True, **terms: object) -> int:
        chosen = {"rounds": 2, "reward_pool": TOKEN_UNIT, "max_epsilon": 1.0} | terms
        proposed = JobTerms(purpose=purpose, spec_cid=self.spec_cid, model_cid=self.model_cid,
                            **chosen)  # type: ignore[arg-type]  # fmt: skip
        job_id = self.requester.ledger.propose_job(proposed)
        if approve:
            proposal = self.requester.ledger.gov.propose_job_approval(job_id)
            self.net.pass_proposal(proposal, list(self.net.nodes.values()))
        return job_id

    def enrolled(self, job_id: int) -> list[int]:
        return self.requester.ledger.jobs.enrolled(job_id)


def _enroller(node: Node, settings: AutoEnrollConfig = ON) -> AutoEnroller:
    made = auto_enroller(node.ctx, node.enroll, settings)
    assert made is not None
    return made


def test_an_allowed_job_is_enrolled_once_and_others_are_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    network = Network()
    allowed = network.job()
    other_purpose = network.job("marketing")
    over_epsilon = network.job(max_epsilon=5.0)
    no_bound = network.job(max_epsilon=None)  # the policy asks for a bound: none is over it
    pool_too_small = network.job(rounds=20)  # 20 rounds at 0.1 DAIN: more than its 1 DAIN
    unapproved = network.job(approve=False)
    enroller = _enroller(network.hospital)

    with caplog.at_level(logging.INFO, logger="dain.node.auto_enroll"):
        enrolled = enroller.step()

    assert enrolled == [(allowed, network.asset)]
    assert network.enrolled(allowed) == [network.asset]
    for job_id in (other_purpose, over_epsilon, no_bound, pool_too_small, unapproved):
        assert network.enrolled(job_id) == [], job_id
    assert unapproved not in enroller._open  # never a candidate: no vote approved it
    logged = caplog.text
    short = f"{network.asset:#066x}"[:14]
    assert f"auto-enrolled asset {short}… in job {allowed} (purpose diagnosis" in logged
    assert f"in job {other_purpose}: its consent policy does not allow purpose marketing" in logged
    assert (
        f"in job {over_epsilon}: its consent policy does not allow epsilon 5 (its most is 2)"
        in logged
    )
    assert f"in job {no_bound}: its consent policy does not allow no privacy bound" in logged
    assert f"in job {pool_too_small}: the pool (1 DAIN) cannot pay" in logged
    # once: the next look decides nothing again and sends no transaction
    block = network.requester.ledger.block_number()
    assert enroller.step() == []
    assert network.requester.ledger.block_number() == block


def test_the_purposes_setting_narrows_what_the_policy_allows() -> None:
    network = Network()
    job_id = network.job()
    enroller = _enroller(network.hospital, AutoEnrollConfig(True, purposes=("research",)))

    assert enroller.step() == []
    assert network.enrolled(job_id) == []


def test_a_job_approved_later_is_found_from_the_new_blocks() -> None:
    network = Network()
    enroller = _enroller(network.hospital)
    assert enroller.step() == []
    read_to = enroller._read_to

    job_id = network.job()

    assert enroller.step() == [(job_id, network.asset)]
    assert enroller._read_to > read_to


def test_the_runner_enrolls_before_the_job_starts_and_then_trains_in_it() -> None:
    # no privacy asked or promised: the job's spec trains without DP
    network = Network(ConsentPolicy(("diagnosis",)))
    job_id = network.job(max_epsilon=None)
    runner = network.hospital.make_runner(NodeState(":memory:"))
    runner.auto_enroll = _enroller(network.hospital)

    runner.step()  # enrolls; the job has not started, so nothing to train yet
    assert network.enrolled(job_id) == [network.asset]
    network.requester.ledger.jobs.start(job_id)
    runner.step()

    assert network.requester.ledger.jobs.job(job_id).status == JobStatus.RUNNING
    assert runner.status.jobs[job_id]["assets_taking_part"] == 1
    assert runner.status.updates_delivered == 1  # to the aggregator, itself


def test_with_the_option_off_nothing_is_enrolled() -> None:
    network = Network()
    job_id = network.job()
    runner = network.hospital.make_runner(NodeState(":memory:"))
    runner.auto_enroll = auto_enroller(network.hospital.ctx, network.hospital.enroll,
                                       AutoEnrollConfig(enabled=False))  # fmt: skip

    runner.step()

    assert runner.auto_enroll is None
    assert network.enrolled(job_id) == []


def test_a_job_whose_input_the_asset_does_not_fit_is_not_enrolled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The job's spec (readable by members) names classes the asset's file does not use:
    training would number them wrongly, so the asset is not enrolled, and the log says why."""
    network = Network()
    data = load_bundled("breast_cancer")
    schema = CsvSchema(data.feature_names, "target", classes=("benign", "unsure"))
    spec = JobSpec("strict", ModelSpec("logreg", 30, 2), TrainConfig(0.1, 1, 16), input=schema)
    network.spec_cid = network.requester.blobs.put(spec.to_bytes())
    strict = network.job()
    hospital = network.hospital
    enroller = auto_enroller(hospital.ctx, hospital.enroll, ON, hospital.trainer.misfit)
    assert enroller is not None

    with caplog.at_level(logging.INFO, logger="dain.node.auto_enroll"):
        assert enroller.step() == []

    assert network.enrolled(strict) == []
    assert "which the job's classes do not include" in caplog.text
