"""The demo story: four hospitals, one researcher, one federated diagnosis model.

Everything here runs for real on the embedded chain and the in-memory transport; the
story only decides who does what, and reports it through a `Reporter`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any, Protocol

import numpy as np

from dain.data import ConsentPolicy, Dataset, load_bundled, partition_stratified, stratified_split
from dain.devnet.network import Devnet
from dain.incentives import contribution_weights, to_basis_points
from dain.learning import (
    ModelSpec,
    PrivacyLevel,
    PrivacySpec,
    TrainConfig,
    accuracy,
    calibrate,
    feature_statistics,
    init_params,
    param_shapes,
    train_local,
)
from dain.ledger import TOKEN_UNIT, ChainBackend, JobTerms, TransactionRefused
from dain.node import JobSpec
from dain.storage import decode_tensors, encode_tensors

PURPOSE = "diagnosis"
HOSPITALS = ("st-mary", "city-general", "north-clinic", "lakeside")


@dataclass(frozen=True)
class StoryConfig:
    rounds: int = 12
    revoke_after: int = 6  # this many rounds in, one hospital revokes consent
    reward_pool: int = 1_000  # whole tokens
    seed: int = 7
    shares: tuple[float, ...] = (0.34, 0.22, 0.26, 0.18)  # each hospital's part of the data
    learning_rate: float = 0.1
    batch_size: int = 16
    secure: bool = False  # secure aggregation: the aggregator sees only masked updates
    epsilon: float | None = None  # record-level differential privacy at this epsilon


@dataclass
class RoundReport:
    round: int
    accuracy: float
    aggregator: str
    participants: list[str]
    block: int


@dataclass
class StoryResult:
    federated_accuracy: float = 0.0
    centralized_accuracy: float = 0.0
    local_accuracies: dict[str, float] = field(default_factory=dict)
    rounds: list[RoundReport] = field(default_factory=list)
    data_used_events: list[dict[str, Any]] = field(default_factory=list)
    rewards: dict[str, float] = field(default_factory=dict)  # whole tokens, for people
    rewards_base_units: dict[str, str] = field(default_factory=dict)  # exact, as on chain
    reward_pool: float = 0.0
    revoked_asset: dict[str, Any] = field(default_factory=dict)
    excluded_asset: dict[str, Any] = field(default_factory=dict)
    job_id: int = 0
    elapsed_s: float = 0.0
    secure_aggregation: bool = False
    epsilon_spent: float | None = None  # the job's privacy loss on chain, when private

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Reporter(Protocol):
    def section(self, title: str) -> None: ...

    def say(self, text: str, style: str = "") -> None: ...

    def table(self, title: str, columns: list[str], rows: list[list[str]]) -> None: ...

    def rounds_started(self, total: int) -> None: ...

    def round_done(self, report: RoundReport) -> None: ...


class SilentReporter:
    def section(self, title: str) -> None:
        pass

    def say(self, text: str, style: str = "") -> None:
        pass

    def table(self, title: str, columns: list[str], rows: list[list[str]]) -> None:
        pass

    def rounds_started(self, total: int) -> None:
        pass

    def round_done(self, report: RoundReport) -> None:
        pass


def run_story(
    config: StoryConfig | None = None,
    reporter: Reporter | None = None,
    *,
    chain: ChainBackend | None = None,
    record: bool = False,
) -> tuple[StoryResult, Devnet]:
    """Runs the story on `chain` (a fresh embedded chain unless given)."""
    config = config or StoryConfig()
    out = reporter or SilentReporter()
    started = time.perf_counter()
    result = StoryResult(reward_pool=float(config.reward_pool))

    out.section("1. The network")
    net = Devnet(chain=chain, record=record)
    hospitals = {name: net.add_node(name, tokens=10_000) for name in HOSPITALS}
    researcher = net.add_node("researcher", tokens=20_000)
    names = {node.address: name for name, node in net.nodes.items()}
    out.say(
        f"Chain {net.chain.chain_id} ({net.chain.name} backend) with dain's contracts; "
        f"{len(net.nodes)} members registered: {', '.join(net.nodes)}."
    )

    out.section("2. Hospitals register their data with a consent policy")
    data = load_bundled("breast_cancer")
    train_rows, test_rows = stratified_split(data.y, 0.2, config.seed)
    train, test = data.subset(train_rows), data.subset(test_rows)
    parts = partition_stratified(train.y, np.asarray(config.shares), config.seed)
    policies = {
        name: ConsentPolicy((PURPOSE, "research"), statement=f"{name} allows diagnostic research.")
        for name in HOSPITALS[:3]
    }
    policies[HOSPITALS[3]] = ConsentPolicy(
        ("research:genomics",), statement="lakeside allows genomics research only."
    )
    asset_of: dict[str, int] = {}
    local_data: dict[str, Dataset] = {}
    rows = []
    for (name, node), part in zip(hospitals.items(), parts, strict=True):
        local_data[name] = train.subset(part, name=f"{name} records")
        salt = hashlib.sha256(f"demo/{config.seed}/{name}".encode()).digest()  # reproducible runs
        asset_of[name] = node.register_asset(
            local_data[name], f"{name} breast-cancer cases", policies[name], salt
        )
        rows.append(
            [
                name,
                f"{asset_of[name]:#x}"[:14] + "…",
                str(len(part)),
                ", ".join(policies[name].purposes),
            ]
        )
    out.table(
        "Data assets (rows stay at each hospital)",
        ["owner", "asset", "rows", "allowed purposes"],
        rows,
    )

    out.section("3. A researcher proposes a diagnosis model")
    mean, scale = feature_statistics(test.x)
    privacy = PrivacySpec()
    if config.epsilon is not None:
        # DP-SGD: each record in a step's batch with probability 0.5, two steps a round,
        # with the least noise that keeps the whole job within the asked-for epsilon
        base = PrivacySpec(PrivacyLevel.RECORD, 1.0, 1.0, 1e-5, sample_rate=0.5, steps=2)
        privacy = calibrate(base, config.epsilon, config.rounds)
    spec = JobSpec(
        title="Breast-cancer diagnosis (logistic regression)",
        model=ModelSpec("logreg", data.num_features, data.num_classes, (), mean, scale),
        # DP-SGD averages clipped, noisy gradients: it takes larger steps
        train=TrainConfig(1.0 if privacy.private else config.learning_rate, 1, config.batch_size),
        seed=config.seed,
        privacy=privacy,
    )  # fmt: skip
    spec_cid = researcher.blobs.put(spec.to_bytes())
    model_cid = researcher.blobs.put(encode_tensors(init_params(spec.model, config.seed)))
    pool = config.reward_pool * TOKEN_UNIT
    job_id = researcher.ledger.propose_job(
        JobTerms(PURPOSE, config.rounds, pool, spec_cid, model_cid,
                 secure_aggregation=config.secure, max_epsilon=config.epsilon)
    )  # fmt: skip
    result.secure_aggregation = config.secure
    if config.secure:
        out.say("Updates are securely aggregated (SecAgg+): the aggregator sees only their sum.")
    if privacy.private:
        out.say(f"Record-level differential privacy: DP-SGD with noise multiplier "
                f"{privacy.noise_multiplier:.2f}, epsilon at most {config.epsilon:g} "
                f"(delta 1e-5) over the whole job.")  # fmt: skip
    result.job_id = job_id
    out.say(
        f"Job #{job_id}: '{spec.title}', purpose '{PURPOSE}', {config.rounds} rounds, "
        f"{config.reward_pool} DAIN escrowed as the reward pool."
    )

    out.section("4. Members vote")
    proposal = researcher.ledger.gov.propose_job_approval(
        job_id, f"Approve job #{job_id}: {spec.title}"
    )
    state = net.pass_proposal(proposal, list(net.nodes.values()))
    tally = net.root.gov.tally(proposal)
    out.say(
        f"Proposal {str(proposal.proposal_id)[:10]}…: {tally.for_ // TOKEN_UNIT:,} DAIN for, "
        f"{tally.against // TOKEN_UNIT:,} against; {state.name.lower()}. "
        f"Job status: {net.root.jobs.job(job_id).status.name.lower()}."
    )

    out.section("5. Hospitals enroll their assets")
    # a node enrolls with its agreement key, if the job is secure
    enroll_each({name: partial(node.enroll, job_id) for name, node in hospitals.items()},
                asset_of, out, result)  # fmt: skip
    researcher.ledger.jobs.start(job_id)

    out.section("6. Federated training")
    revoker = HOSPITALS[1]
    out.rounds_started(config.rounds)
    for number in range(1, config.rounds + 1):
        if config.secure:
            record = net.run_secure_round(job_id, number)
            owner_of = {asset: name for name, asset in asset_of.items()}
            used_now = [u for u in net.root.jobs.data_used(job_id=job_id) if u.round == number]
            took_part = {owner_of[u.asset_id]: [u.asset_id] for u in used_now}
        else:
            record, took_part = net.run_round(job_id, number)
        if record is None:
            out.say(f"Round {number}: no usable update arrived; the job stops here.", "red")
            break
        model_blob = researcher.fetch_blob(record.model_cid, [record.aggregator])
        params = decode_tensors(model_blob, expected=param_shapes(spec.model))
        report = RoundReport(
            number,
            accuracy(spec.model, params, test.x, test.y),
            names[record.aggregator],
            sorted(names[node.address] for node in net.nodes.values() if node.name in took_part),
            record.block_number,
        )
        result.rounds.append(report)
        out.round_done(report)
        if number == config.revoke_after:
            block = hospitals[revoker].revoke(asset_of[revoker])
            result.revoked_asset = {
                "owner": revoker,
                "asset_id": hex(asset_of[revoker]),
                "after_round": number,
                "block": block,
            }
            out.say(
                f"{revoker} revokes consent (block {block}); "
                f"it takes no part from round {number + 1}.",
                "yellow",
            )
    result.federated_accuracy = result.rounds[-1].accuracy if result.rounds else 0.0
    if privacy.private:
        result.epsilon_spent = net.root.jobs.job(job_id).epsilon_spent
        out.say(f"Privacy loss recorded on chain: epsilon {result.epsilon_spent:.3f} of "
                f"{config.epsilon:g}.")  # fmt: skip

    out.section("7. Federated vs centralized vs each hospital alone")
    result.centralized_accuracy = trained_alone(spec, train, test, config)
    result.local_accuracies = {
        name: trained_alone(spec, d, test, config) for name, d in local_data.items()
    }
    rows = [
        ["federated (dain)", f"{result.federated_accuracy:.3f}"],
        ["centralized (all data pooled)", f"{result.centralized_accuracy:.3f}"],
    ]
    rows += [[f"{name} alone", f"{acc:.3f}"] for name, acc in result.local_accuracies.items()]
    out.table(f"Test accuracy on {len(test)} held-out cases", ["model", "accuracy"], rows)

    out.section("8. Rewards")
    used = net.root.jobs.data_used(job_id=job_id)
    weights = contribution_weights((u.asset_id, u.num_examples) for u in used)
    researcher.ledger.jobs.complete(job_id, to_basis_points(weights))
    owner_of_asset = {asset: name for name, asset in asset_of.items()}
    for asset_id in sorted(weights):
        name = owner_of_asset[asset_id]
        paid = hospitals[name].ledger.jobs.claim(job_id, asset_id)
        result.rewards[name] = paid / TOKEN_UNIT
        result.rewards_base_units[name] = str(paid)
    out.table(
        f"Rewards claimed: {net.root.jobs.floor_share_bps() / 100:g}% shared equally by assets "
        "in every round, the rest by examples contributed",
        ["owner", "rounds used", "DAIN"],
        [
            [n, str(sum(1 for u in used if owner_of_asset[u.asset_id] == n)), f"{a:.2f}"]
            for n, a in result.rewards.items()
        ],
    )

    out.section("9. Audit trail, from chain events alone")
    result.data_used_events = [
        {
            "job_id": u.job_id,
            "round": u.round,
            "asset_id": hex(u.asset_id),
            "owner": owner_of_asset[u.asset_id],
            "purpose": u.purpose,
            "policy_version": u.policy_version,
            "num_examples": u.num_examples,
            "block": u.block_number,
        }
        for u in used
    ]
    trail = [u for u in used if u.asset_id == asset_of[revoker]]
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
    return result, net


def enroll_each(
    enrollers: dict[str, Callable[[int], object]],
    assets: dict[str, int],
    out: Reporter,
    result: StoryResult,
) -> None:
    """Each hospital enrolls its asset; one the chain refuses is reported as excluded."""
    for name, enroll in enrollers.items():
        try:
            enroll(assets[name])
            out.say(f"{name}: enrolled", "green")
        except TransactionRefused as refused:
            out.say(f"{name}: refused by the chain: {refused.message}", "yellow")
            result.excluded_asset = {
                "owner": name,
                "asset_id": hex(assets[name]),
                "reason": refused.message,
            }


def trained_alone(spec: JobSpec, data: Dataset, test: Dataset, config: StoryConfig) -> float:
    """The same model and optimizer trained on one dataset for as many epochs as there are
    rounds, evaluated on the same held-out cases as the federated model."""
    params = init_params(spec.model, config.seed)
    for epoch in range(config.rounds):
        params = train_local(
            spec.model, params, data.x, data.y, spec.train, seed=config.seed + epoch
        ).params
    return accuracy(spec.model, params, test.x, test.y)
