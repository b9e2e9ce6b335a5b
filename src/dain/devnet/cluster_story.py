"""The demo story across real node processes: the orchestrator acts only through each
member's own key on chain, and reads models from the nodes' HTTP APIs. The nodes do the
training, the aggregation and the round records by themselves."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

import httpx
import numpy as np

from dain.data import ConsentPolicy, Dataset, load_csv
from dain.devnet.cluster import HOSPITALS, RESEARCHER, Cluster
from dain.devnet.home import treasury_ledger
from dain.devnet.network import pass_proposal
from dain.devnet.story import (
    Reporter,
    RoundReport,
    SilentReporter,
    StoryConfig,
    StoryResult,
    enroll_each,
    trained_alone,
)
from dain.errors import DainError
from dain.identity import Identity
from dain.incentives import contribution_weights, to_basis_points
from dain.learning import (
    ModelSpec,
    TrainConfig,
    accuracy,
    feature_statistics,
    init_params,
    param_shapes,
)
from dain.ledger import TOKEN_UNIT, JobTerms, Ledger
from dain.node.home import NodeHome
from dain.node.spec import JobSpec
from dain.storage import FileBlobStore, decode_tensors, encode_tensors, verify

PURPOSE = "diagnosis"


def member_ledger(cluster: Cluster, name: str, root: Ledger) -> Ledger:
    home = NodeHome(Path(cluster.node(name).home))
    return root.as_identity(Identity.load_keystore(home.keystore, cluster.password))


def run_cluster_story(
    cluster: Cluster, config: StoryConfig | None = None, reporter: Reporter | None = None,
    *, round_duration: int = 20, timeout: float = 300.0,
) -> StoryResult:  # fmt: skip
    config = config or StoryConfig()
    out = reporter or SilentReporter()
    started = time.perf_counter()
    result = StoryResult(reward_pool=float(config.reward_pool))
    root = treasury_ledger(cluster.home, cluster.password)
    names = [n.name for n in cluster.nodes()]
    hospitals = [n for n in names if n in HOSPITALS]
    ledgers = {name: member_ledger(cluster, name, root) for name in names}
    by_address = {ledger.address: name for name, ledger in ledgers.items()}
    researcher = ledgers[RESEARCHER]

    out.section("1. The network: one process per node")
    for node in cluster.nodes():
        out.say(f"{node.name:<13} pid {node.pid:<7} {node.endpoint}  {node.address}")

    out.section("2. Consent")
    assets = {name: root.jobs.count() and 0 for name in hospitals}  # filled below
    for name in hospitals:
        (assets[name],) = [
            int(a, 16) for a in httpx.get(f"{cluster.node(name).endpoint}/status").json()["assets"]
        ]
    if len(hospitals) > 3:  # as in the in-process demo: one hospital allows genomics only
        strict = ConsentPolicy(
            ("research:genomics",), statement=f"{hospitals[3]} allows genomics only."
        )
        ledgers[hospitals[3]].assets.set_policy(
            assets[hospitals[3]], strict, "bafkrei-genomics-policy"
        )
        out.say(f"{hospitals[3]} narrows its consent to genomics research (policy v2).", "yellow")

    out.section("3. The researcher proposes; members vote")
    test = load_csv(Path(cluster.node(RESEARCHER).home) / "data" / "test.csv", "diagnosis")
    mean, scale = feature_statistics(test.x)
    spec = JobSpec(
        "Breast-cancer diagnosis (logistic regression)",
        ModelSpec("logreg", test.num_features, test.num_classes, (), mean, scale),
        TrainConfig(config.learning_rate, 1, config.batch_size), seed=config.seed,
    )  # fmt: skip
    # the researcher's node process serves these from its blob store
    blobs = FileBlobStore(NodeHome(Path(cluster.node(RESEARCHER).home)).blobs)
    spec_cid = blobs.put(spec.to_bytes())
    model_cid = blobs.put(encode_tensors(init_params(spec.model, config.seed)))
    job_id = researcher.propose_job(
        JobTerms(PURPOSE, config.rounds, config.reward_pool * TOKEN_UNIT, spec_cid, model_cid,
                 round_duration=round_duration)
    )  # fmt: skip
    result.job_id = job_id
    proposal = researcher.gov.propose_job_approval(job_id, f"Approve job #{job_id}: {spec.title}")
    state = pass_proposal(root, proposal, list(ledgers.values()))
    out.say(f"Job #{job_id} approval: {state.name.lower()} after the timelock.")

    out.section("4. Enrollment")
    enroll_each({name: partial(ledgers[name].jobs.enroll, job_id) for name in hospitals},
                assets, out, result)  # fmt: skip
    researcher.jobs.start(job_id)

    out.section("5. The nodes train; the orchestrator only watches the chain")
    out.rounds_started(config.rounds)
    revoker = hospitals[1] if len(hospitals) > 1 else None
    seen, revoked_in = 0, 0
    deadline = time.monotonic() + timeout
    while seen < config.rounds:
        if time.monotonic() > deadline:
            raise DainError(f"Job {job_id} stalled at round {seen + 1} of {config.rounds}.")
        job = root.jobs.job(job_id)
        if revoker and not revoked_in and job.current_round >= config.revoke_after:
            # at once, before reporting: the next round takes a few hundred milliseconds
            revoked_in = ledgers[revoker].assets.revoke(assets[revoker])
        if job.current_round == seen:
            time.sleep(0.02)
            continue
        seen += 1
        record = root.jobs.round_record(job_id, seen)
        endpoint = root.registry.member(record.aggregator).endpoint
        model = httpx.get(f"{endpoint}/blobs/{record.model_cid}", timeout=10).content
        verify(record.model_cid, model)
        params = decode_tensors(model, expected=param_shapes(spec.model))
        used = root.jobs.data_used(job_id=job_id)
        report = RoundReport(
            seen, accuracy(spec.model, params, test.x, test.y), by_address[record.aggregator],
            sorted(by_address[u.owner] for u in used if u.round == seen), record.block_number,
        )  # fmt: skip
        result.rounds.append(report)
        out.round_done(report)
        if revoker and seen == config.revoke_after:
            block = revoked_in
            result.revoked_asset = {"owner": revoker, "asset_id": hex(assets[revoker]),
                                    "after_round": seen, "block": block}  # fmt: skip
            out.say(f"{revoker} revokes consent (block {block}).", "yellow")
    result.federated_accuracy = result.rounds[-1].accuracy

    out.section("6. Comparison, rewards and audit")
    train_parts = {
        n: load_csv(Path(cluster.node(n).home) / "data" / "records.csv", "diagnosis")
        for n in hospitals
    }
    for name, data in train_parts.items():
        result.local_accuracies[name] = trained_alone(spec, data, test, config)
    pooled = next(iter(train_parts.values()))
    pooled = Dataset(
        "all hospitals", np.concatenate([d.x for d in train_parts.values()]),
        np.concatenate([d.y for d in train_parts.values()]), pooled.feature_names, pooled.target,
        pooled.classes,
    )  # fmt: skip
    result.centralized_accuracy = trained_alone(spec, pooled, test, config)
    used = root.jobs.data_used(job_id=job_id)
    weights = contribution_weights((u.asset_id, u.num_examples) for u in used)
    researcher.jobs.complete(job_id, to_basis_points(weights))
    owner = {asset: name for name, asset in assets.items()}
    for asset_id in sorted(weights):
        paid = ledgers[owner[asset_id]].jobs.claim(job_id, asset_id)
        result.rewards[owner[asset_id]] = paid / TOKEN_UNIT
        result.rewards_base_units[owner[asset_id]] = str(paid)
    result.data_used_events = [
        {"job_id": u.job_id, "round": u.round, "asset_id": hex(u.asset_id),
         "owner": owner[u.asset_id], "purpose": u.purpose, "policy_version": u.policy_version,
         "num_examples": u.num_examples, "block": u.block_number}
        for u in used
    ]  # fmt: skip
    out.table(
        "Results", ["what", "value"],
        [["federated accuracy", f"{result.federated_accuracy:.3f}"],
         ["centralized accuracy", f"{result.centralized_accuracy:.3f}"],
         *[[f"{n} alone", f"{a:.3f}"] for n, a in result.local_accuracies.items()],
         *[[f"{n} reward", f"{a:.2f} DAIN"] for n, a in result.rewards.items()],
         ["uses on chain", str(len(used))]],
    )  # fmt: skip
    result.elapsed_s = round(time.perf_counter() - started, 2)
    return result
