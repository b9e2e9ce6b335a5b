"""The demo story: four hospitals, one researcher, one federated diagnosis model.

Everything here runs for real on the embedded chain (or a given one) and the in-memory
transport; the story drives the rounds, leaves each step to `steps`, and tells what
happens through a `Reporter`.
"""

from __future__ import annotations

import hashlib
import time

from dain.data import format_asset_id
from dain.devnet.network import Devnet
from dain.devnet.steps import (
    HOSPITALS,
    PURPOSE,
    RESEARCHER,
    approve_job,
    audit_trail,
    compare,
    consent_policy,
    diagnosis_spec,
    enroll_all,
    hospital_data,
    note_revocation,
    pay_rewards,
    propose_job,
    score_round,
    strict_hospital,
)
from dain.devnet.story_types import Reporter, SilentReporter, StoryConfig, StoryResult
from dain.identity import Identity
from dain.ledger import TOKEN_UNIT, ChainBackend, Deployment, Ledger, RoundInfo


class InProcess:
    """The steps' view of a `Devnet`: each member acts through its own node."""

    def __init__(self, devnet: Devnet) -> None:
        self.devnet = devnet
        self.root: Ledger = devnet.root
        self.members: dict[str, Ledger] = {n: node.ledger for n, node in devnet.nodes.items()}

    def enroll(self, name: str, job_id: int, asset_id: int) -> None:
        self.devnet.nodes[name].enroll(job_id, asset_id)  # with its agreement key if secure

    def revoke(self, name: str, asset_id: int) -> int:
        return self.devnet.nodes[name].revoke(asset_id)

    def publish(self, owner: str, blob: bytes) -> str:
        return self.devnet.nodes[owner].blobs.put(blob)

    def model(self, record: RoundInfo) -> bytes:
        researcher = self.devnet.nodes[RESEARCHER]
        return researcher.fetch_blob(record.model_cid, [record.aggregator], record.job_id)


def run_story(
    config: StoryConfig | None = None,
    reporter: Reporter | None = None,
    *,
    chain: ChainBackend | None = None,
    record: bool = False,
    existing: tuple[Deployment, Identity] | None = None,
) -> tuple[StoryResult, Devnet]:
    """Runs the story on `chain` (a fresh embedded chain unless given), on `existing`
    contracts with their treasury if given, else on new ones."""
    config = config or StoryConfig()
    out = reporter or SilentReporter()
    started = time.perf_counter()
    result = StoryResult(reward_pool=float(config.reward_pool), secure_aggregation=config.secure)

    out.section("1. The network")
    hospitals = HOSPITALS[: len(config.shares)]
    devnet = Devnet(chain=chain, record=record, existing=existing)
    # salts are fixed, so runs are reproducible; but asset ids are manifest hashes, and
    # contracts the story may have run on before need new ones
    again = f"/{devnet.root.block_number()}" if existing is not None else ""
    for name in hospitals:
        devnet.add_node(name, tokens=10_000)
    devnet.add_node(RESEARCHER, tokens=20_000)
    net = InProcess(devnet)
    out.say(
        f"Chain {devnet.chain.chain_id} ({devnet.chain.name} backend) with dain's contracts; "
        f"{len(devnet.nodes)} members registered: {', '.join(devnet.nodes)}."
    )

    out.section("2. Hospitals register their data with a consent policy")
    train, test, local = hospital_data(hospitals, config.shares, config.seed)
    assets: dict[str, int] = {}
    rows = []
    for name, records in local.items():
        policy = consent_policy(name, genomics_only=name == strict_hospital(hospitals))
        salt = hashlib.sha256(f"demo/{config.seed}/{name}{again}".encode()).digest()
        assets[name] = devnet.nodes[name].register_asset(
            records, f"{name} breast-cancer cases", policy, salt
        )
        rows.append(
            [name, format_asset_id(assets[name])[:14] + "…", str(len(records)),
             ", ".join(policy.purposes)]
        )
    out.table(
        "Data assets (rows stay at each hospital)",
        ["owner", "asset", "rows", "allowed purposes"],
        rows,
    )

    out.section("3. A researcher proposes a diagnosis model")
    spec = diagnosis_spec(test, config)
    job_id = propose_job(net, spec, config)
    result.job_id = job_id
    if config.secure:
        out.say("Updates are securely aggregated (SecAgg+): the aggregator sees only their sum.")
    if spec.privacy.private:
        out.say(f"Record-level differential privacy: DP-SGD with noise multiplier "
                f"{spec.privacy.noise_multiplier:.2f}, epsilon at most {config.epsilon:g} "
                f"(delta 1e-5) over the whole job.")  # fmt: skip
    out.say(
        f"Job #{job_id}: '{spec.title}', purpose '{PURPOSE}', {config.rounds} rounds, "
        f"{config.reward_pool} DAIN escrowed as the reward pool."
    )

    out.section("4. Members vote")
    proposal, state = approve_job(net, job_id, spec.title)
    tally = net.root.gov.tally(proposal)
    out.say(
        f"Proposal {str(proposal.proposal_id)[:10]}…: {tally.for_ // TOKEN_UNIT:,} DAIN for, "
        f"{tally.against // TOKEN_UNIT:,} against; {state.name.lower()}. "
        f"Job status: {net.root.jobs.job(job_id).status.name.lower()}."
    )

    out.section("5. Hospitals enroll their assets")
    enroll_all(net, job_id, assets, out, result)

    out.section("6. Federated training")
    revoker = hospitals[1]
    out.rounds_started(config.rounds)
    for number in range(1, config.rounds + 1):
        if config.secure:
            round_record = devnet.run_secure_round(job_id, number)
        else:
            round_record, _ = devnet.run_round(job_id, number)
        if round_record is None:
            out.say(f"Round {number}: no usable update arrived; the job stops here.", "red")
            break
        report = score_round(net, spec, test, round_record)
        result.rounds.append(report)
        out.round_done(report)
        if number == config.revoke_after:
            block = net.revoke(revoker, assets[revoker])
            note_revocation(result, revoker, assets[revoker], number, block)
            out.say(
                f"{revoker} revokes consent (block {block}); "
                f"it takes no part from round {number + 1}.",
                "yellow",
            )
    result.federated_accuracy = result.rounds[-1].accuracy if result.rounds else 0.0
    if spec.privacy.private:
        result.epsilon_spent = net.root.jobs.job(job_id).epsilon_spent
        out.say(f"Privacy loss recorded on chain: epsilon {result.epsilon_spent:.3f} of "
                f"{config.epsilon:g}.")  # fmt: skip

    out.section("7. Federated vs centralized vs each hospital alone")
    compare(spec, train, local, test, config, result)
    rows = [
        ["federated (dain)", f"{result.federated_accuracy:.3f}"],
        ["centralized (all data pooled)", f"{result.centralized_accuracy:.3f}"],
    ]
    rows += [[f"{name} alone", f"{acc:.3f}"] for name, acc in result.local_accuracies.items()]
    out.table(f"Test accuracy on {len(test)} held-out cases", ["model", "accuracy"], rows)

    out.section("8. Rewards")
    used = pay_rewards(net, job_id, assets, result)
    owner = {asset: name for name, asset in assets.items()}
    out.table(
        f"Rewards claimed: {net.root.jobs.floor_share_bps() / 100:g}% shared equally by assets "
        "in every round, the rest by examples contributed",
        ["owner", "rounds used", "DAIN"],
        [
            [n, str(sum(1 for u in used if owner[u.asset_id] == n)), f"{a:.2f}"]
            for n, a in result.rewards.items()
        ],
    )

    out.section("9. Audit trail, from chain events alone")
    result.data_used_events = audit_trail(used, assets)
    trail = [u for u in used if u.asset_id == assets[revoker]]
    out.table(
        f"Every use of {revoker}'s asset (DataUsed events)",
        ["job", "round", "purpose", "policy v.", "examples", "block"],
        [
            [
                str(u.job_id),
                str(u.round),
                u.purpose,
                str(u.policy_version),
                str(u.num_examples),
                str(u.block_number),
            ]
            for u in trail
        ],
    )
    result.elapsed_s = round(time.perf_counter() - started, 2)
    return result, devnet
