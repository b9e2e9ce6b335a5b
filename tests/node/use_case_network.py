"""Runs a use-case job file on the in-process network, as `dain job propose` and the
owners' nodes would, and scores its final model on the requester's held-out data."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from dain.data import ConsentPolicy, Dataset, load_asset
from dain.devnet import Devnet
from dain.learning import Metrics, ModelSpec, TrainConfig, evaluate, init_params, train_local
from dain.ledger import TOKEN_UNIT, JobTerms
from dain.node import JobSpec, write_use_case
from dain.node.job_file import JobPlan, load_job_file
from dain.storage import decode_tensors, encode_tensors


@dataclasses.dataclass
class UseCaseRun:
    plan: JobPlan
    net: Devnet
    owners: list[tuple[str, int]]  # node name, asset id
    test: Dataset

    def run(self, spec: JobSpec, rounds: int, *, secure: bool = False,
            max_epsilon: float | None = None) -> Metrics:
        """Proposes `spec` as a job (the plan's terms), runs its rounds, scores the result."""
        return evaluate(spec.model, self.train(spec, rounds, secure=secure,
                                               max_epsilon=max_epsilon)[1],
                        self.test.x, self.test.y)  # fmt: skip

    def train(self, spec: JobSpec, rounds: int, *, secure: bool = False,
              max_epsilon: float | None = None) -> tuple[int, dict[str, np.ndarray]]:
        """The job's id and its final model, every owner taking part in every round."""
        requester = self.net.nodes["requester"]
        job_id = requester.ledger.propose_job(JobTerms(
            self.plan.purpose, rounds, TOKEN_UNIT, requester.blobs.put(spec.to_bytes()),
            requester.blobs.put(encode_tensors(init_params(spec.model, spec.seed))),
            secure_aggregation=secure, max_epsilon=max_epsilon,
            round_duration=80 if secure else 600,
        ))  # fmt: skip
        self.net.pass_proposal(requester.ledger.gov.propose_job_approval(job_id),
                               list(self.net.nodes.values()))  # fmt: skip
        for name, asset_id in self.owners:
            self.net.nodes[name].enroll(job_id, asset_id)
        requester.ledger.jobs.start(job_id)
        record = None
        for round_no in range(1, rounds + 1):
            if secure:
                record = self.net.run_secure_round(job_id, round_no)
                assert record is not None and record.participants == len(self.owners)
                continue
            record, took_part = self.net.run_round(job_id, round_no)
            assert record is not None
            assert sum(len(v) for v in took_part.values()) == len(self.owners)
        assert record is not None
        peers = [n.address for n in self.net.nodes.values()]
        return job_id, decode_tensors(requester.fetch_blob(record.model_cid, peers, job_id))

    def central(self, model: ModelSpec, train: TrainConfig, rounds: int) -> Metrics:
        """The same model trained on the union of the rows the owners' nodes train on, for
        as many epochs as the job's rounds gave each of them."""
        parts = [self.net.nodes[name].assets[asset_id].examples(self.plan.schema)
                 for name, asset_id in self.owners]  # fmt: skip
        x = np.concatenate([p.x for p in parts])
        y = np.concatenate([p.y for p in parts])
        longer = dataclasses.replace(train, epochs=train.epochs * rounds)
        params = train_local(model, init_params(model, 0), x, y, longer, seed=0).params
        return evaluate(model, params, self.test.x, self.test.y)


def use_case_network(name: str, folder: Path, owners: int = 3, salt: int = 0) -> UseCaseRun:
    """The use case's data written for `owners` nodes that register it as their assets.
    The salts are fixed (by `salt`), so the asset ids, and with them each node's held-out
    split and training seeds, are the same every run."""
    job, data = write_use_case(name, folder, owners)
    plan = load_job_file(job)
    net = Devnet()
    net.add_node("requester", tokens=20_000)
    target = None if plan.schema.kind == "image" else plan.schema.target
    registered = []
    for k, path in enumerate(data.owners, start=1):
        node = net.add_node(f"owner{k}", tokens=10_000)
        asset_id = node.register_asset(load_asset(path, target), path.name,
                                       ConsentPolicy((plan.purpose,)),
                                       salt=bytes([salt, k]) * 16)  # fmt: skip
        registered.append((node.name, asset_id))
    test = plan.evaluation_data()
    assert test is not None
    return UseCaseRun(plan, net, registered, test)


def mlp_on_same_input(plan: JobPlan, hidden: int = 64) -> ModelSpec:
    """An MLP reading the same examples (flattened), with the same standardization."""
    model = plan.spec.model
    layers = [{"type": "flatten"}, {"type": "linear", "out_features": hidden},
              {"type": "relu"}, {"type": "linear", "out_features": model.num_classes}]  # fmt: skip
    return dataclasses.replace(ModelSpec.network(model.example_shape, layers, model.num_classes,
                                                 model.feature_mean, model.feature_scale),
                               target_mean=model.target_mean,
                               target_scale=model.target_scale)  # fmt: skip
