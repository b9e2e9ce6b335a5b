"""A node finds its jobs from enrollment events (issue 12, finding 8): proposals that do not
involve its assets, spam included, never reach its step."""

from __future__ import annotations

from dain.data import ConsentPolicy, load_bundled
from dain.devnet import Devnet
from dain.learning import ModelSpec, TrainConfig, init_params
from dain.ledger import TOKEN_UNIT, JobTerms
from dain.node import JobSpec, NodeState
from dain.node.job_finder import JobFinder
from dain.storage import encode_tensors


def test_a_node_finds_the_jobs_its_assets_joined_and_no_others() -> None:
    net = Devnet()
    data = load_bundled("breast_cancer")
    requester = net.add_node("researcher", tokens=20_000)
    hospital = net.add_node("hospital", tokens=10_000)
    spammer = net.add_node("spammer", tokens=1_000)
    spec = JobSpec("real", ModelSpec("logreg", 30, 2), TrainConfig(0.1, 1, 16), seed=1)
    terms = JobTerms("diagnosis", 2, TOKEN_UNIT, requester.blobs.put(spec.to_bytes()),
                     requester.blobs.put(encode_tensors(init_params(spec.model, 1))))  # fmt: skip
    pool = spammer.ledger.jobs.min_reward_pool()
    spammer.ledger.token.approve(spammer.ledger.jobs.address, pool * 30)

    def spam(count: int) -> None:
        for _ in range(count):
            spammer.ledger.jobs.propose(JobTerms("diagnosis", 1, pool, terms.spec_cid,
                                                 terms.model_cid))  # fmt: skip

    def approved_job() -> int:
        job_id = requester.ledger.propose_job(terms)
        net.pass_proposal(requester.ledger.gov.propose_job_approval(job_id),
                          list(net.nodes.values()))  # fmt: skip
        return job_id

    spam(10)
    first, second = approved_job(), approved_job()
    asset = hospital.register_asset(data.subset(range(0, 200)), "a", ConsentPolicy(("diagnosis",)))
    hospital.enroll(first, asset)
    spam(10)
    finder = JobFinder(hospital.ledger)
    assert finder.jobs([asset]) == [first]
    read_to = hospital.ledger.block_number()

    hospital.enroll(second, asset)  # seen on the next look, which reads only new blocks
    assert finder.jobs([asset]) == [first, second]
    assert finder._read_to[asset] > read_to

    # an asset the node registers later has its whole history read
    later = hospital.register_asset(data.subset(range(200, 400)), "b",
                                    ConsentPolicy(("diagnosis",)))  # fmt: skip
    third = approved_job()
    hospital.enroll(third, later)
    spam(10)
    assert finder.jobs([asset, later]) == [first, second, third]
    assert finder.jobs([]) == [first, second, third]
    assert hospital.ledger.jobs.count() == 33


def test_a_nodes_step_reads_only_its_own_jobs() -> None:
    net = Devnet()
    data = load_bundled("breast_cancer")
    requester = net.add_node("researcher", tokens=20_000)
    hospital = net.add_node("hospital", tokens=10_000)
    spec = JobSpec("real", ModelSpec("logreg", 30, 2), TrainConfig(0.1, 1, 16), seed=1)
    terms = JobTerms("diagnosis", 2, TOKEN_UNIT, requester.blobs.put(spec.to_bytes()),
                     requester.blobs.put(encode_tensors(init_params(spec.model, 1))))  # fmt: skip
    job_id = requester.ledger.propose_job(terms)
    net.pass_proposal(requester.ledger.gov.propose_job_approval(job_id), list(net.nodes.values()))
    asset = hospital.register_asset(data, "a", ConsentPolicy(("diagnosis",)))
    hospital.enroll(job_id, asset)
    requester.ledger.jobs.start(job_id)
    requester.ledger.token.approve(requester.ledger.jobs.address, TOKEN_UNIT * 20)
    for _ in range(20):
        requester.ledger.jobs.propose(terms)
    runner = hospital.make_runner(NodeState(":memory:"))

    runner.step()

    assert runner.status.jobs.keys() == {job_id}
    assert runner.status.updates_delivered == 1  # to the aggregator, itself
