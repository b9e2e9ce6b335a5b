"""The round protocol's own cost: 5 node processes (4 hospitals and a researcher) on
127.0.0.1 with anvil, a 100,000-parameter MLP, several rounds. Overhead per round is the
round's wall time minus the slowest participant's local training time; traffic is what
each node sent (requests and blobs it served). Baseline in the same run: the same job on
the same data in one process, over the in-memory transport and the embedded chain, where
overhead is the round's wall time minus the (sequential) training of its participants.

Where the overhead goes comes from the nodes' own instrumentation (dain.costs, in /status
as "costs"): per round and node, milliseconds of chain reads, transactions, signature work,
HTTP, serialization and waiting; "other" is the rest of a node's protocol work that no
category names (aggregation, hashing, bookkeeping). Categories count exclusive time, and
nodes work in parallel, so a round's categories are per node, not a split of its wall time.

Prints one JSON line with overhead_ms_per_round, bytes_sent_per_node_per_round, model_bytes
and the breakdowns. Targets: at most 100 ms overhead per round; at most 1.1x the model
size per node."""

from __future__ import annotations

import itertools
import json
import statistics
import tempfile
import time
from pathlib import Path

from dain.costs import CATEGORIES, attribute
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


def in_process_overhead(
    spec: JobSpec, data: dict[str, Dataset]
) -> tuple[list[float], list[dict[str, float]]]:
    """The same rounds with no processes, HTTP or anvil: what the protocol costs in itself;
    per round, the overhead and its milliseconds per category, summed over the nodes (they
    take their turns one after another here; "other" is what no category names)."""
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
    overheads, breakdowns = [], []
    for round_no in range(1, ROUNDS + 1):
        key = f"{job_id}/{round_no}"
        began = time.perf_counter()
        job = net.root.jobs.job(job_id)
        aggregator = net.root.jobs.aggregator_of(job_id, round_no)
        for node in hospitals.values():
            with attribute(node.ctx.costs, key):
                for asset in node.trainer.eligible_assets(job):
                    update = node.participant.make_update(job, round_no, asset)
                    node.participant.deliver(aggregator, job_id, round_no, update)
        elected = net.node_of(aggregator)
        with attribute(elected.ctx.costs, key):
            elected.aggregator.finish_round(job_id, round_no)
        wall = time.perf_counter() - began
        summed = {c: 0.0 for c in CATEGORIES}
        for node in net.nodes.values():
            for category, spent in node.ctx.costs.snapshot().get(key, {}).items():
                summed[category] += spent["seconds"]
        overhead = wall - summed.pop("training")
        # in memory a request's "http" span holds the handler's work, which the handling
        # node counts in its own categories too: left out of the sum, shown apart
        in_memory = summed.pop("http")
        summed["other"] = overhead - sum(summed.values())
        summed["http_in_memory_incl_handler"] = in_memory
        overheads.append(overhead)
        breakdowns.append({c: round(s * 1000, 1) for c, s in summed.items()})
    return overheads, breakdowns


def node_breakdown(costs: dict, key: str, train_seconds: float) -> dict[str, float]:
    """A node's milliseconds per category in one round, from its /status "costs", and
    how many times each ("chain_read_n": the chain reads)."""
    found = costs.get(key, {})
    tally = {c: found.get(c, {}).get("seconds", 0.0) for c in CATEGORIES}
    tally["training"] = max(tally["training"], train_seconds)
    row = {c: round(s * 1000, 1) for c, s in tally.items() if s}
    row |= {f"{c}_n": found[c]["count"] for c in CATEGORIES if c in found and c != "training"}
    return row


def median_by_category(rows: list[dict[str, float]]) -> dict[str, float]:
    categories = sorted({c for row in rows for c in row})
    return {c: round(statistics.median(row.get(c, 0.0) for row in rows), 1) for c in categories}


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
    baseline, baseline_breakdown = in_process_overhead(spec, data)

    walls = [b - a for a, b in itertools.pairwise(ends)]
    overheads = []
    for r, wall in enumerate(walls, start=1):
        training = [s["train_seconds"].get(f"{job_id}/{r}", 0.0) for s in after.values()]
        overheads.append(wall - max(training))
    participants = HOSPITALS[:4]
    sent = {n: after[n]["bytes_sent"] - before[n]["bytes_sent"] for n in after}
    per_participant = statistics.mean(sent[n] for n in participants) / ROUNDS
    steady = overheads[1:]  # round 1 includes first-use warm-up (model fetch, allocator)
    per_round = []
    for r in range(1, ROUNDS + 1):
        key = f"{job_id}/{r}"
        aggregator = next(
            (n for n, s in after.items() if s["costs"].get(key, {}).get("chain_tx")), None
        )
        per_round.append(
            {
                "round": r,
                "overhead_ms": round(overheads[r - 1] * 1000, 1),
                "aggregator": aggregator,
                "ms_by_node": {
                    n: node_breakdown(s["costs"], key, s["train_seconds"].get(key, 0.0))
                    for n, s in after.items()
                },
            }
        )
    steady_rows = per_round[1:]
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
                "median_ms_by_category": {
                    "aggregator": median_by_category(
                        [r["ms_by_node"][r["aggregator"]] for r in steady_rows if r["aggregator"]]
                    ),
                    "participant": median_by_category(
                        [
                            r["ms_by_node"][n]
                            for r in steady_rows
                            for n in participants
                            if n != r["aggregator"]
                        ]
                    ),
                },
                "per_round": per_round,
                "baseline_ms_by_category_per_round": median_by_category(baseline_breakdown[1:]),
                "targets": {"overhead_ms_per_round": 100, "bytes_ratio": 1.1},
            }
        )
    )


if __name__ == "__main__":
    main()
