"""A node's step under proposal spam (issue 12, finding 8): a hospital node in one running
job (waiting on a second hospital that never steps), on anvil, steps before and after a
spammer proposes 10,000 jobs, each with the smallest pool the network allows, so the spam
costs it 10,000 times that. Baseline in the same run: what the old step did first, reading
every job ever proposed, after the spam.

Prints one JSON line with step_ms_before, step_ms_after (medians), the chain requests a step
makes before and after (medians: they do not depend on the machine's load, which the times
do), full_scan_ms_after and the jobs proposed. Target: the same requests per step, and
step_ms_after within noise of step_ms_before on a quiet machine."""

from __future__ import annotations

import argparse
import json
import statistics
import time

from rich.progress import Progress

from dain.data import ConsentPolicy, load_bundled
from dain.devnet.network import Devnet
from dain.learning import ModelSpec, TrainConfig, init_params
from dain.ledger import TOKEN_UNIT, JobTerms, RpcChain
from dain.ledger.anvil import AnvilProcess
from dain.node import JobSpec, NodeState
from dain.storage import encode_tensors


class RpcCounter:
    """Counts the chain requests a node's ledger client makes (every read, log search and
    block query goes through its ChainCaller): what a step asks of the chain, which, unlike
    its time, does not depend on how busy the machine is."""

    METHODS = ("read", "events", "block_number", "block_time", "transaction_input", "send")

    def __init__(self, caller) -> None:  # type: ignore[no-untyped-def]
        self.calls = 0
        for name in self.METHODS:
            setattr(caller, name, self._counted(getattr(caller, name)))

    def _counted(self, method):  # type: ignore[no-untyped-def]
        def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
            self.calls += 1
            return method(*args, **kwargs)

        return counted


def measure(runner, counter: RpcCounter, steps: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Median step time (ms) and median chain requests per step."""
    timings, calls = [], []
    for _ in range(steps):
        before, began = counter.calls, time.perf_counter()
        runner.step()
        timings.append((time.perf_counter() - began) * 1000)
        calls.append(counter.calls - before)
    return statistics.median(timings), statistics.median(calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spam", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()

    anvil = AnvilProcess.start()
    try:
        net = Devnet(chain=RpcChain(anvil.url))
        requester = net.add_node("researcher", tokens=20_000)
        hospital = net.add_node("hospital", tokens=10_000)
        quiet = net.add_node("quiet", tokens=10_000)  # enrolled, never steps: rounds stay open
        spammer = net.add_node("spammer", tokens=args.spam + 10)
        data = load_bundled("breast_cancer")
        spec = JobSpec("real", ModelSpec("logreg", 30, 2), TrainConfig(0.1, 1, 16), seed=1)
        # a long round, so that the steps measured wait for others and train nothing new
        terms = JobTerms("diagnosis", 3, TOKEN_UNIT, requester.blobs.put(spec.to_bytes()),
                         requester.blobs.put(encode_tensors(init_params(spec.model, 1))),
                         round_duration=3600)  # fmt: skip
        job_id = requester.ledger.propose_job(terms)
        net.pass_proposal(requester.ledger.gov.propose_job_approval(job_id),
                          list(net.nodes.values()))  # fmt: skip
        for node, rows in ((hospital, range(0, 300)), (quiet, range(300, len(data.y)))):
            node.enroll(job_id, node.register_asset(data.subset(rows), node.name,
                                                    ConsentPolicy(("diagnosis",))))  # fmt: skip
        requester.ledger.jobs.start(job_id)
        runner = hospital.make_runner(NodeState(":memory:"))
        counter = RpcCounter(hospital.ledger.caller)
        runner.step()  # trains the hospital's update once
        before, calls_before = measure(runner, counter, args.steps)
        assert runner.status.jobs.get(job_id, {}).get("round") == 1, runner.status.jobs

        pool = spammer.ledger.jobs.min_reward_pool()
        spammer.ledger.token.approve(spammer.ledger.jobs.address, pool * args.spam)
        junk = JobTerms("diagnosis", 1, pool, terms.spec_cid, terms.model_cid)
        with Progress() as progress:
            task = progress.add_task("spam proposals", total=args.spam)
            for _ in range(args.spam):
                spammer.ledger.jobs.propose(junk)
                progress.advance(task)
        runner.step()  # the one look that reads the spam's blocks for enrollments
        after, calls_after = measure(runner, counter, args.steps)
        assert runner.status.jobs.get(job_id, {}).get("round") == 1, runner.status.jobs

        jobs = hospital.ledger.jobs
        began = time.perf_counter()
        for other in range(1, jobs.count() + 1):
            jobs.job(other)
        full_scan = (time.perf_counter() - began) * 1000
        print(json.dumps({
            "jobs_proposed": jobs.count(), "step_ms_before": round(before, 2),
            "step_ms_after": round(after, 2), "full_scan_ms_after": round(full_scan, 1),
            "rpc_calls_per_step_before": calls_before, "rpc_calls_per_step_after": calls_after,
            "spam_cost_tokens": pool * args.spam / TOKEN_UNIT,
        }))  # fmt: skip
    finally:
        anvil.stop()


if __name__ == "__main__":
    main()
