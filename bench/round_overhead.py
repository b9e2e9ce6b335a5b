"""The round protocol's own cost: 5 node processes (4 hospitals and a researcher) on
127.0.0.1 with anvil, a 100,000-parameter MLP, several rounds. Overhead per round is the
round's wall time minus the slowest participant's local training time; traffic is what
each node sent (requests and blobs it served). Baseline in the same run: the same job on
the same data in one process, over the in-memory transport and the embedded chain, where
overhead is the round's wall time minus the (sequential) training of its participants.

Prints one JSON line with overhead_ms_per_round, bytes_sent_per_node_per_round, model_bytes.
Targets: at most 300 ms overhead per round; at most 1.1x the model size per node."""

from __future__ import annotations

import itertools
import json
import statistics
import tempfile
import time
from pathlib import Path

from dain.data import ConsentPolicy, Dataset, load_csv
from dain.devnet.cluster import HOSPITALS, RESEARCHER, Cluster
from dain.devnet.cluster_story import member_ledger
from dain.devnet.home import treasury_ledger
from dain.devnet.network import Devnet, pass_proposal
from dain.learning import ModelSpec, TrainConfig, feature_statistics, init_params
from dain.ledger import TOKEN_UNIT, JobTerms
from dain.node.home import NodeHome
from dain.node.network_home import NetworkHome
from dain.node.spec import JobSpec
from dain.storage import FileBlobStore, encode_tensors

ROUNDS = 6
HIDDEN = 3_000  # 30 x 3,000 + 3,000 + 3,000 x 2 + 2 = 99,002 parameters


def in_process_overhead(spec: JobSpec, data: dict[str, Dataset]) -> list[float]:
    """The same rounds with no processes, HTTP or anvil: what the protocol costs in itself."""
    net = Devnet()
    researcher = net.add_node(RESEARCHER, tokens=20_000)
    hospitals = {name: net.add_node(name, tokens=10_000) for name in data}
    blobs = researcher.blobs
    job_id = researcher.ledger.propose_job(
        JobTerms("diagnosis", ROUNDS, TOKEN_UNIT, blobs.put(spec.to_bytes()),
                 blobs.put(encode_tensors(init_params(spec.model, 1))))
    )  # fmt: skip
    net.pass_proposal(researcher.ledger.gov.propose_job_approval(job_id), list(net.nodes.values()))
    for name, node in hospitals.items():
        asset = node.register_asset(data[name], name, ConsentPolicy(("diagnosis",)))
        node.ledger.jobs.enroll(job_id, asset)
    researcher.ledger.jobs.start(job_id)
    overheads = []
    for round_no in range(1, ROUNDS + 1):
        began, training = time.perf_counter(), 0.0
        job = net.root.jobs.job(job_id)
        aggregator = net.root.jobs.aggregator_of(job_id, round_no)
        for node in hospitals.values():
            for asset in node.trainer.eligible_assets(job):
                trained = time.perf_counter()
                update = node.participant.make_update(job, round_no, asset)
                training += time.perf_counter() - trained
                node.participant.deliver(aggregator, job_id, round_no, update)
        net.node_of(aggregator).aggregator.finish_round(job_id, round_no)
        overheads.append(time.perf_counter() - began - training)
    return overheads


def statuses(cluster: Cluster) -> dict[str, dict]:
    found = {}
    for node in cluster.nodes():
        with node.client() as client:  # HTTPS, trusting the certificate in the node's home
            found[node.name] = client.get(f"{node.endpoint}/status").json()
    return found


def main() -> None:
    cluster = Cluster(NetworkHome(Path(tempfile.mkdtemp(prefix="dain-bench-"))))
    cluster.up(4)
    try:
        root = treasury_ledger(cluster.home, cluster.password)
        ledgers = {n.name: member_ledger(cluster, n.name, root) for n in cluster.nodes()}
        researcher = ledgers[RESEARCHER]
        test = load_csv(Path(cluster.node(RESEARCHER).home) / "data" / "test.csv", "diagnosis")
        mean, scale = feature_statistics(test.x)
        spec = JobSpec(
            "bench",
            ModelSpec("mlp", 30, 2, (HIDDEN,), mean, scale),
            TrainConfig(0.05, 1, 16),
            seed=1,
        )
        blobs = FileBlobStore(NodeHome(Path(cluster.node(RESEARCHER).home)).blobs)
        model = encode_tensors(init_params(spec.model, 1))
        params = sum(int(v.size) for v in init_params(spec.model, 1).values())
        job_id = researcher.propose_job(
            JobTerms("diagnosis", ROUNDS, TOKEN_UNIT, blobs.put(spec.to_bytes()), blobs.put(model),
                     round_duration=60)
        )  # fmt: skip
        pass_proposal(root, researcher.gov.propose_job_approval(job_id), list(ledgers.values()))
        for name in HOSPITALS[:4]:
            asset = int(statuses(cluster)[name]["assets"][0], 16)
            ledgers[name].jobs.enroll(job_id, asset)
        before = statuses(cluster)
        researcher.jobs.start(job_id)
        ends = [time.perf_counter()]
        while len(ends) <= ROUNDS:
            if root.jobs.job(job_id).current_round >= len(ends):
                ends.append(time.perf_counter())
            else:
                time.sleep(0.005)
        after = statuses(cluster)
        data = {
            name: load_csv(Path(cluster.node(name).home) / "data" / "records.csv", "diagnosis")
            for name in HOSPITALS[:4]
        }
    finally:
        cluster.down()
    baseline = in_process_overhead(spec, data)

    walls = [b - a for a, b in itertools.pairwise(ends)]
    overheads = []
    for r, wall in enumerate(walls, start=1):
        training = [s["train_seconds"].get(f"{job_id}/{r}", 0.0) for s in after.values()]
        overheads.append(wall - max(training))
    participants = HOSPITALS[:4]
    sent = {n: after[n]["bytes_sent"] - before[n]["bytes_sent"] for n in after}
    per_participant = statistics.mean(sent[n] for n in participants) / ROUNDS
    steady = overheads[1:]  # round 1 includes first-use warm-up (model fetch, allocator)
    print(
        json.dumps(
            {
                "nodes": len(after),
                "rounds": ROUNDS,
                "params": params,
                "model_bytes": len(model),
                "overhead_ms_per_round": round(statistics.median(steady) * 1000, 1),
                "overhead_ms_round_1": round(overheads[0] * 1000, 1),
                "baseline_in_process_overhead_ms_per_round": round(
                    statistics.median(baseline[1:]) * 1000, 1
                ),
                "round_wall_ms": [round(w * 1000, 1) for w in walls],
                "bytes_sent_per_node_per_round": round(per_participant),
                "bytes_sent_per_node_per_round_ratio": round(per_participant / len(model), 3),
                "bytes_sent_by_node_per_round": {n: round(v / ROUNDS) for n, v in sent.items()},
                "targets": {"overhead_ms_per_round": 300, "bytes_ratio": 1.1},
            }
        )
    )


if __name__ == "__main__":
    main()
