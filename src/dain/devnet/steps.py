"""The demo story's steps, one implementation each, shared by the story in one process
(`story`: nodes on an in-memory transport) and the story across node processes
(`cluster_story`). A step reaches the network through a `StoryNetwork`: the members'
clients, each signing with that member's own key, and the members' blob stores.

The stories keep what differs: who drives the rounds (the in-process story runs them;
node processes run their own while the cluster story watches the chain) and how each
tells what happened."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from dain.data import (
    ConsentPolicy,
    Dataset,
    format_asset_id,
    load_bundled,
    partition_stratified,
    stratified_split,
)
from dain.devnet.network import pass_proposal
from dain.devnet.story_types import Reporter, RoundReport, StoryConfig, StoryResult
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
from dain.ledger import (
    TOKEN_UNIT,
    DataUsed,
    JobStatus,
    JobTerms,
    Ledger,
    Proposal,
    ProposalState,
    RoundInfo,
    TransactionRefused,
)
from dain.node import JobSpec
from dain.storage import decode_tensors, encode_tensors

PURPOSE = "diagnosis"
HOSPITALS = ("st-mary", "city-general", "north-clinic", "lakeside", "harbor-view", "east-side")
RESEARCHER = "researcher"
STRICT = 3  # the fourth hospital consents to genomics research only: the chain refuses it


class StoryNetwork(Protocol):
    """How the steps reach a network."""

    root: Ledger  # the treasury: reads the chain, and on a dev chain hurries votes along
    members: Mapping[str, Ledger]  # every member's client, signing with its own key

    def enroll(self, name: str, job_id: int, asset_id: int) -> None:
        """Member `name` enrolls its asset, as its node does."""

    def revoke(self, name: str, asset_id: int) -> int:
        """Member `name` revokes consent for its asset; the block it took effect in."""

    def publish(self, owner: str, blob: bytes) -> str:
        """Stores a blob in `owner`'s blob store, where peers fetch it; its content id."""

    def model(self, record: RoundInfo) -> bytes:
        """A recorded round's model, checked against its content id."""


# ---- data and consent ------------------------------------------------------------------


def hospital_data(
    hospitals: Sequence[str], shares: Sequence[float], seed: int
) -> tuple[Dataset, Dataset, dict[str, Dataset]]:
    """The breast-cancer cases split 80/20 into training and held-out test cases, and the
    training cases dealt among `hospitals` by `shares`, every class at every hospital."""
    data = load_bundled("breast_cancer")
    train_rows, test_rows = stratified_split(data.y, 0.2, seed)
    train, test = data.subset(train_rows), data.subset(test_rows)
    parts = partition_stratified(train.y, np.asarray(shares, dtype=np.float64), seed)
    local = {
        name: train.subset(part, name=f"{name} records")
        for name, part in zip(hospitals, parts, strict=True)
    }
    return train, test, local


def strict_hospital(hospitals: Sequence[str]) -> str | None:
    return hospitals[STRICT] if len(hospitals) > STRICT else None


def consent_policy(name: str, *, genomics_only: bool = False) -> ConsentPolicy:
    """A hospital's terms: diagnostic research, or genomics research only."""
    if genomics_only:
        return ConsentPolicy(
            ("research:genomics",), statement=f"{name} allows genomics research only."
        )
    return ConsentPolicy((PURPOSE, "research"), statement=f"{name} allows diagnostic research.")


# ---- the job -----------------------------------------------------------------------


def diagnosis_spec(test: Dataset, config: StoryConfig) -> JobSpec:
    """The researcher's job: logistic regression on the cases' features, standardized by
    the researcher's own held-out cases; with DP-SGD when the story asks for an epsilon."""
    mean, scale = feature_statistics(test.x)
    privacy = PrivacySpec()
    if config.epsilon is not None:
        # DP-SGD: each record in a step's batch with probability 0.5, two steps a round,
        # with the least noise that keeps the whole job within the asked-for epsilon
        base = PrivacySpec(PrivacyLevel.RECORD, 1.0, 1.0, 1e-5, sample_rate=0.5, steps=2)
        privacy = calibrate(base, config.epsilon, config.rounds)
    return JobSpec(
        title="Breast-cancer diagnosis (logistic regression)",
        model=ModelSpec("logreg", test.num_features, test.num_classes, (), mean, scale),
        # DP-SGD averages clipped, noisy gradients: it takes larger steps
        train=TrainConfig(1.0 if privacy.private else config.learning_rate, 1, config.batch_size),
        seed=config.seed,
        privacy=privacy,
    )  # fmt: skip


def propose_job(
    net: StoryNetwork, spec: JobSpec, config: StoryConfig, *, round_duration: int | None = None
) -> int:
    """The researcher publishes the spec and the initial model from its node and proposes
    the job, escrowing the reward pool; the job's id."""
    spec_cid = net.publish(RESEARCHER, spec.to_bytes())
    model_cid = net.publish(RESEARCHER, encode_tensors(init_params(spec.model, config.seed)))
    terms = JobTerms(PURPOSE, config.rounds, config.reward_pool * TOKEN_UNIT, spec_cid, model_cid,
                     secure_aggregation=config.secure, max_epsilon=config.epsilon)  # fmt: skip
    if round_duration is not None:
        terms = replace(terms, round_duration=round_duration)
    return net.members[RESEARCHER].propose_job(terms)


def approve_job(net: StoryNetwork, job_id: int, title: str) -> tuple[Proposal, ProposalState]:
    """The researcher asks the members to approve the job; every member votes for it."""
    proposal = net.members[RESEARCHER].gov.propose_job_approval(
        job_id, f"Approve job #{job_id}: {title}"
    )
    return proposal, pass_proposal(net.root, proposal, list(net.members.values()))


def enroll_all(
    net: StoryNetwork, job_id: int, assets: Mapping[str, int], out: Reporter, result: StoryResult
) -> None:
    """Each hospital enrolls its asset (one the chain refuses is reported as excluded);
    then the researcher starts the job."""
    for name, asset_id in assets.items():
        try:
            net.enroll(name, job_id, asset_id)
            out.say(f"{name}: enrolled", "green")
        except TransactionRefused as refused:
            out.say(f"{name}: refused by the chain: {refused.message}", "yellow")
            result.excluded_asset = {
                "owner": name,
                "asset_id": format_asset_id(asset_id),
                "reason": refused.message,
            }
    net.members[RESEARCHER].jobs.start(job_id)


# ---- rounds ------------------------------------------------------------------------


def score_round(
    net: StoryNetwork, spec: JobSpec, test: Dataset, record: RoundInfo
) -> RoundReport:
    """A recorded round as the researcher sees it: its model's accuracy on the held-out
    cases, its aggregator, and whose data it used (from the chain's DataUsed events)."""
    params = decode_tensors(net.model(record), expected=param_shapes(spec.model))
    names = {ledger.address: name for name, ledger in net.members.items()}
    used = net.root.jobs.data_used(job_id=record.job_id)
    return RoundReport(
        record.round,
        accuracy(spec.model, params, test.x, test.y),
        names[record.aggregator],
        sorted({names[u.owner] for u in used if u.round == record.round}),
        record.block_number,
    )


def note_revocation(
    result: StoryResult, owner: str, asset_id: int, after_round: int, block: int
) -> None:
    result.revoked_asset = {
        "owner": owner,
        "asset_id": format_asset_id(asset_id),
        "after_round": after_round,
        "block": block,
    }


# ---- afterwards: comparison, rewards, audit ------------------------------------------


def trained_alone(spec: JobSpec, data: Dataset, test: Dataset, config: StoryConfig) -> float:
    """The same model and optimizer trained on one dataset for as many epochs as there are
    rounds, evaluated on the same held-out cases as the federated model."""
    params = init_params(spec.model, config.seed)
    for epoch in range(config.rounds):
        params = train_local(
            spec.model, params, data.x, data.y, spec.train, seed=config.seed + epoch
        ).params
    return accuracy(spec.model, params, test.x, test.y)


def compare(
    spec: JobSpec,
    pooled: Dataset,
    local: Mapping[str, Dataset],
    test: Dataset,
    config: StoryConfig,
    result: StoryResult,
) -> None:
    """Accuracy of the same training on all the data pooled, and on each hospital's alone."""
    result.centralized_accuracy = trained_alone(spec, pooled, test, config)
    result.local_accuracies = {
        name: trained_alone(spec, data, test, config) for name, data in local.items()
    }


def pooled(local: Mapping[str, Dataset]) -> Dataset:
    """Every hospital's records in one dataset, as if they had been sent to one place."""
    first = next(iter(local.values()))
    return Dataset(
        "all hospitals", np.concatenate([d.x for d in local.values()]),
        np.concatenate([d.y for d in local.values()]), first.feature_names, first.target,
        first.classes,
    )  # fmt: skip


def pay_rewards(
    net: StoryNetwork, job_id: int, assets: Mapping[str, int], result: StoryResult
) -> list[DataUsed]:
    """The researcher completes the job (anyone may) and the contract pays each asset
    whose data was used by what it contributed; each owner claims. Returns every use of
    data the job recorded."""
    used = net.root.jobs.data_used(job_id=job_id)
    net.members[RESEARCHER].jobs.complete(job_id)
    owner = {asset: name for name, asset in assets.items()}
    for asset_id in sorted({u.asset_id for u in used}):
        paid = net.members[owner[asset_id]].jobs.claim(job_id, asset_id)
        result.rewards[owner[asset_id]] = paid / TOKEN_UNIT
        result.rewards_base_units[owner[asset_id]] = str(paid)
    return used


def release_job(net: StoryNetwork, job_id: int) -> str | None:
    """After a story failed midway, leaves none of the job's pool escrowed: the requester
    cancels it (and gets back what no round earned) or, once its last round is recorded,
    completes it; then each owner claims what its asset is owed. What became of the job,
    or None if it had closed already."""
    jobs = net.root.jobs
    job = jobs.job(job_id)
    requester = net.members[RESEARCHER].jobs
    if job.status in (JobStatus.COMPLETED, JobStatus.CANCELLED):
        return None
    if job.status == JobStatus.RUNNING and job.current_round >= job.rounds:
        requester.complete(job_id)
        outcome = "completed"
    else:
        requester.cancel(job_id)
        outcome = "cancelled"
    owners = {ledger.address: ledger for ledger in net.members.values()}
    for asset_id in jobs.enrolled(job_id):
        owner = owners.get(net.root.assets.owner_of(asset_id))
        try:
            if owner is not None:
                owner.jobs.claim(job_id, asset_id)
        except TransactionRefused:  # owed nothing: no round used it
            pass
    return outcome


def audit_trail(used: list[DataUsed], assets: Mapping[str, int]) -> list[dict[str, Any]]:
    """The job's uses of data as the chain's DataUsed events record them, with owners."""
    owner = {asset: name for name, asset in assets.items()}
    return [
        {
            "job_id": u.job_id,
            "round": u.round,
            "asset_id": format_asset_id(u.asset_id),
            "owner": owner[u.asset_id],
            "purpose": u.purpose,
            "policy_version": u.policy_version,
            "num_examples": u.num_examples,
            "block": u.block_number,
        }
        for u in used
    ]
