"""The demo story across real node processes: the orchestrator acts only through each
member's own key on chain, and reads models from the nodes' HTTPS APIs (pinned to the
certificate each member published on chain, as any requester's script would). The nodes do the
training, the aggregation and the round records by themselves; the story watches the
chain, and leaves each step to `steps`."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from dain.data import Dataset, load_csv
from dain.devnet.cluster import Cluster
from dain.devnet.home import treasury_ledger
from dain.devnet.steps import (
    HOSPITALS,
    RESEARCHER,
    approve_job,
    audit_trail,
    compare,
    consent_policy,
    diagnosis_spec,
    enroll_all,
    note_revocation,
    pay_rewards,
    pooled,
    propose_job,
    release_job,
    score_round,
    strict_hospital,
)
from dain.devnet.story_types import Reporter, SilentReporter, StoryConfig, StoryResult
from dain.errors import DainError
from dain.identity import Identity
from dain.ledger import Ledger, RoundInfo
from dain.node import JobSpec, NodeHome, blob_request, pinned_client
from dain.storage import FileBlobStore, verify


def member_ledger(cluster: Cluster, name: str, root: Ledger) -> Ledger:
    home = NodeHome(Path(cluster.node(name).home))
    return root.as_identity(Identity.load_keystore(home.keystore, cluster.password))


class Processes:
    """The steps' view of a `Cluster`: each member acts with the key in its node's home,
    and puts blobs where its node process serves them."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.root = treasury_ledger(cluster.home, cluster.password)
        self.members = {n.name: member_ledger(cluster, n.name, self.root) for n in cluster.nodes()}

    def enroll(self, name: str, job_id: int, asset_id: int) -> None:
        self.members[name].jobs.enroll(job_id, asset_id)

    def revoke(self, name: str, asset_id: int) -> int:
        return self.members[name].assets.revoke(asset_id)

    def publish(self, owner: str, blob: bytes) -> str:
        return FileBlobStore(NodeHome(Path(self.cluster.node(owner).home)).blobs).put(blob)

    def model(self, record: RoundInfo) -> bytes:
        aggregator = self.root.registry.member(record.aggregator)
        researcher = self.members[RESEARCHER]  # the requester: its role lets it read models
        headers = blob_request(researcher.identity, researcher.chain_id, record.model_cid,
                               record.job_id)  # fmt: skip
        with pinned_client(aggregator.endpoint, aggregator.tls_fingerprint) as client:
            model = client.get(f"/blobs/{record.model_cid}", headers=headers).content
        verify(record.model_cid, model)
        return model

    def asset(self, name: str) -> int:
        """The one asset a hospital's node registered when the cluster came up."""
        with self.cluster.node(name).client() as client:
            status = client.get("/status").json()
        (asset,) = status["assets"]
        return int(asset, 16)

    def records(self, name: str, file: str) -> Path:
        return Path(self.cluster.node(name).home) / "data" / file


def run_cluster_story(
    cluster: Cluster, config: StoryConfig | None = None, reporter: Reporter | None = None,
    *, round_duration: int = 20, timeout: float = 300.0,
) -> StoryResult:  # fmt: skip
    cluster.require_running()
    config = config or StoryConfig()
    out = reporter or SilentReporter()
    started = time.perf_counter()
    result = StoryResult(reward_pool=float(config.reward_pool), secure_aggregation=config.secure)
    net = Processes(cluster)
    hospitals = [name for name in net.members if name in HOSPITALS]

    out.section("1. The network: one process per node")
    for node in cluster.nodes():
        out.say(f"{node.name:<13} pid {node.pid:<7} {node.endpoint}  {node.address}")

    out.section("2. Consent")
    assets = {name: net.asset(name) for name in hospitals}
    strict = strict_hospital(hospitals)
    for name in hospitals:  # as in the in-process demo, whatever an earlier run left
        _consent_as_the_story_starts(net, name, assets[name], name == strict, out)

    out.section("3. The researcher proposes; members vote")
    test = load_csv(net.records(RESEARCHER, "test.csv"), "diagnosis")
    spec = diagnosis_spec(test, config)
    job_id = propose_job(net, spec, config, round_duration=round_duration)
    result.job_id = job_id
    try:
        _run_job(net, job_id, spec, test, assets, config, out, result, timeout)
    except BaseException:  # a failed run leaves none of the pool escrowed
        with contextlib.suppress(DainError):
            if (outcome := release_job(net, job_id)) is not None:
                out.say(f"Job #{job_id} {outcome}: nothing of its pool stays escrowed.", "red")
        raise
    result.elapsed_s = round(time.perf_counter() - started, 2)
    return result


def _consent_as_the_story_starts(
    net: Processes, name: str, asset_id: int, strict: bool, out: Reporter
) -> None:
    """The hospital's consent as the story tells it: the strict one narrows it to genomics
    research; one whose consent an earlier run revoked grants it again."""
    on_chain = net.root.assets.policy(asset_id)
    policy = consent_policy(name, genomics_only=strict)
    if not on_chain.revoked and on_chain.policy.purposes == policy.purposes:
        return
    version = net.members[name].assets.set_policy(
        asset_id, policy, net.publish(name, policy.document())
    )
    if strict:
        out.say(f"{name} narrows its consent to genomics research (policy v{version}).", "yellow")
    else:
        out.say(f"{name} grants consent again, revoked in an earlier run (policy v{version}).")


def _run_job(
    net: Processes, job_id: int, spec: JobSpec, test: Dataset,
    assets: dict[str, int], config: StoryConfig, out: Reporter, result: StoryResult,
    timeout: float,
) -> None:  # fmt: skip
    """The story from the vote on: enrollment, rounds, comparison, rewards."""
    hospitals = list(assets)
    _, state = approve_job(net, job_id, spec.title)
    out.say(f"Job #{job_id} approval: {state.name.lower()} after the timelock.")

    out.section("4. Enrollment")
    enroll_all(net, job_id, assets, out, result)

    out.section("5. The nodes train; the orchestrator only watches the chain")
    out.rounds_started(config.rounds)
    revoker = hospitals[1] if len(hospitals) > 1 else None
    seen, revoked_in = 0, 0
    deadline = time.monotonic() + timeout
    while seen < config.rounds:
        if time.monotonic() > deadline:
            raise DainError(f"Job {job_id} stalled at round {seen + 1} of {config.rounds}.")
        job = net.root.jobs.job(job_id)
        if revoker and not revoked_in and job.current_round >= config.revoke_after:
            # at once, before reporting: the next round takes a few hundred milliseconds
            revoked_in = net.revoke(revoker, assets[revoker])
        if job.current_round == seen:
            time.sleep(0.02)
            continue
        seen += 1
        report = score_round(net, spec, test, net.root.jobs.round_record(job_id, seen))
        result.rounds.append(report)
        out.round_done(report)
        if revoker and seen == config.revoke_after:
            note_revocation(result, revoker, assets[revoker], seen, revoked_in)
            out.say(f"{revoker} revokes consent (block {revoked_in}).", "yellow")
    result.federated_accuracy = result.rounds[-1].accuracy

    out.section("6. Comparison, rewards and audit")
    local = {name: load_csv(net.records(name, "records.csv"), "diagnosis") for name in hospitals}
    compare(spec, pooled(local), local, test, config, result)
    used = pay_rewards(net, job_id, assets, result)
    result.data_used_events = audit_trail(used, assets)
    out.table(
        "Results", ["what", "value"],
        [["federated accuracy", f"{result.federated_accuracy:.3f}"],
         ["centralized accuracy", f"{result.centralized_accuracy:.3f}"],
         *[[f"{n} alone", f"{a:.3f}"] for n, a in result.local_accuracies.items()],
         *[[f"{n} reward", f"{a:.2f} DAIN"] for n, a in result.rewards.items()],
         ["uses on chain", str(len(used))]],
    )  # fmt: skip
