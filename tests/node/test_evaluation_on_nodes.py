"""Federated evaluation on nodes (issue 13, point 3): after each round the requester has its
own metrics of the round's model and the participants' signed reports on their held-out rows,
combined by examples; reports that do not hold are refused; and the fraud model that answers
"no fraud" everywhere is seen for what it is, by everyone."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dain.data import ConsentPolicy, Dataset, card_fraud, load_bundled, partition_stratified
from dain.devnet import Devnet
from dain.errors import DainError
from dain.learning import Metrics, ModelSpec, TrainConfig, combine, feature_statistics, init_params
from dain.ledger import TOKEN_UNIT, JobTerms
from dain.node import (
    Envelope,
    JobSpec,
    Node,
    NodeState,
    ProtocolError,
    Request,
    metrics_request,
    seal,
    verify_reports,
)
from dain.node.evaluation_store import EvaluationStore, StoredReport
from dain.node.reports import seal_report
from dain.storage import encode_tensors

ROUNDS = 2


def write_csv(path: Path, data: Dataset) -> Path:
    """The rows as a requester keeps them: features, then the label as its class index."""
    header = ",".join([*(f.replace(",", " ") for f in data.feature_names), "label"])
    table = np.column_stack([data.x, data.y]).astype(object)
    table[:, -1] = data.y.astype(int)
    np.savetxt(path, table, delimiter=",", header=header, comments="", fmt="%s")
    return path


def start_job(
    data: Dataset, spec: JobSpec, params: dict, hospitals: int = 3
) -> tuple[Devnet, int, Node, list[Node], Dataset]:
    """A researcher's job on `hospitals` hospitals' shares of `data`; the researcher keeps a
    share of its own to evaluate on."""
    net = Devnet()
    requester = net.add_node("researcher", tokens=20_000)
    nodes = [net.add_node(f"h{i}", tokens=10_000) for i in range(hospitals)]
    parts = partition_stratified(data.y, np.full(hospitals + 1, 1 / (hospitals + 1)), 7)
    assets = [h.register_asset(data.subset(p), h.name, ConsentPolicy(("diagnosis",)))
              for h, p in zip(nodes, parts, strict=False)]  # fmt: skip
    job_id = requester.ledger.propose_job(JobTerms(
        "diagnosis", ROUNDS, TOKEN_UNIT, requester.blobs.put(spec.to_bytes()),
        requester.blobs.put(encode_tensors(params))))  # fmt: skip
    net.pass_proposal(requester.ledger.gov.propose_job_approval(job_id), list(net.nodes.values()))
    for hospital, asset in zip(nodes, assets, strict=True):
        hospital.enroll(job_id, asset)
    requester.ledger.jobs.start(job_id)
    return net, job_id, requester, nodes, data.subset(parts[-1])


def cancer_job(tmp_path: Path) -> tuple[Devnet, int, Node, list[Node], Dataset]:
    data = load_bundled("breast_cancer")
    mean, scale = feature_statistics(data.x)
    spec = JobSpec(
        "evaluated",
        ModelSpec("logreg", 30, 2, feature_mean=mean, feature_scale=scale),
        TrainConfig(0.1, 1, 16),
        seed=4,
    )
    net, job_id, requester, hospitals, own = start_job(data, spec, init_params(spec.model, 4))
    requester.set_evaluation(job_id, write_csv(tmp_path / "eval.csv", own), "label")
    return net, job_id, requester, hospitals, own


def evaluate_everywhere(net: Devnet, job_id: int) -> None:
    """What each node's runner does after training: participants first, so their reports
    reach the requester in this same pass."""
    for node in net.nodes.values():
        if node.name != "researcher":
            node.evaluation.step([job_id])
    net.nodes["researcher"].evaluation.step([])


def test_after_each_round_the_requester_has_its_metrics_and_the_federated_ones(
    tmp_path: Path,
) -> None:
    net, job_id, requester, hospitals, own = cancer_job(tmp_path)
    held_out = sum(len(a.held_out) for h in hospitals for a in h.assets.values())

    for round_no in range(1, ROUNDS + 1):
        record, took_part = net.run_round(job_id, round_no)
        assert record is not None and len(took_part) == 3
        if round_no < ROUNDS:
            evaluate_everywhere(net, job_id)
        else:  # the last round through the runners' own step: the hook they run
            for node in net.nodes.values():
                node.make_runner(NodeState(":memory:")).step()

        rounds = requester.metrics(job_id)
        assert [r.round for r in rounds] == list(range(1, round_no + 1))
        latest = rounds[-1]
        assert latest.model_cid == record.model_cid
        assert latest.reports == 3
        assert latest.requester is not None and latest.requester.examples == len(own)
        assert latest.federated is not None and latest.federated.examples == held_out
        assert latest.requester.roc_auc is not None and latest.federated.roc_auc is not None
    assert rounds[-1].requester.accuracy > 0.85 and rounds[-1].federated.accuracy > 0.85

    # the reports the requester kept verify against the chain, without the requester
    kept = requester.evaluation.store.reports(job_id)
    verified = verify_reports(net.root, job_id, [r.envelope for r in kept])
    assert len(verified) == 3 * ROUNDS
    assert combine([r.metrics for r in verified if r.round == ROUNDS]) == rounds[-1].federated
    # receipts count the training rows only
    used = {u.asset_id: u.num_examples for u in net.root.jobs.data_used(job_id=job_id)}
    for hospital in hospitals:
        for asset in hospital.assets.values():
            assert (
                used[asset.asset_id]
                == len(asset.training)
                == len(asset.dataset) - len(asset.held_out)
            )

    # the requester's command line reads the same, in a request only the requester signs
    ledger = requester.ledger
    asked = Request(
        "GET",
        f"/jobs/{job_id}/metrics",
        headers=metrics_request(ledger.identity, ledger.chain_id, job_id),
    )
    answer = requester.handle(asked)
    assert answer.status == 200
    assert json.loads(answer.body)["rounds"] == [r.to_dict() for r in rounds]
    stranger = hospitals[0].ledger
    refused = requester.handle(replace(asked, headers=metrics_request(
        stranger.identity, stranger.chain_id, job_id)))  # fmt: skip
    assert refused.status == 403


def _post(node: Node, data: bytes, reason: str = "") -> int:
    """The status `node` answers a report with; a refusal must give `reason`."""
    answer = node.handle(Request("POST", "/metrics", data))
    assert reason in json.loads(answer.body).get("error", ""), answer.body
    return answer.status


def test_reports_that_do_not_hold_are_refused(tmp_path: Path) -> None:
    net, job_id, requester, hospitals, _ = cancer_job(tmp_path)
    record, _ = net.run_round(job_id, 1)
    assert record is not None
    owner = hospitals[0]
    asset_id = next(iter(owner.assets))
    metrics = Metrics(38, accuracy=0.9, balanced_accuracy=0.9, roc_auc=0.95, log_loss=0.3)

    def report(node: Node, round: int = 1, asset: int = asset_id, scores: Metrics = metrics,
               cid: str = record.model_cid) -> bytes:  # fmt: skip
        ledger = node.ledger
        return seal_report(ledger.identity, ledger.chain_id, job_id, round, asset, cid, scores)

    # a member who does not hold the asset
    assert _post(requester, report(hospitals[1]), "did not hold") == 409
    outsider = net.add_node("outsider")
    assert _post(requester, report(outsider), "did not hold") == 409
    # a forged signature: the owner's report with better scores written in
    honest = Envelope.from_bytes(report(owner))
    forged = replace(honest, body=honest.body | {"metrics": replace(
        metrics, accuracy=1.0).to_dict()})  # fmt: skip
    assert _post(requester, forged.to_bytes(), "signed it") == 401
    # a round not recorded, a model not the round's, an asset not in the job
    assert _post(requester, report(owner, round=2), "not recorded") == 409
    assert (
        _post(requester, report(owner, cid=net.root.jobs.job(job_id).spec_cid), "recorded") == 409
    )
    other = owner.register_asset(owner.assets[asset_id].dataset.subset(np.arange(20)), "other",
                                 ConsentPolicy(("diagnosis",)))  # fmt: skip
    assert _post(requester, report(owner, asset=other), "not enrolled") == 409
    # a report weighing more rows than the asset holds would outweigh every other one
    heavy = replace(metrics, examples=2**32 - 2)
    assert _post(requester, report(owner, scores=heavy), "was registered with") == 409
    # a report to a node that is not the job's requester
    assert _post(hospitals[2], report(owner), "not the requester") == 409
    # malformed, oversized, or of the wrong kind
    ledger = owner.ledger
    junk = seal(ledger.identity, ledger.chain_id, "metrics", job_id, 1,
                {"asset_id": str(asset_id), "model_cid": record.model_cid,
                 "metrics": {"examples": 5, "accuracy": 2.0}})  # fmt: skip
    assert _post(requester, junk.to_bytes(), "out of its range") == 400
    for wide in ("9" * 78, "²"):  # above 2^256, and a digit that is not ASCII: not a 500
        odd = seal(ledger.identity, ledger.chain_id, "metrics", job_id, 1,
                   {"asset_id": wide, "model_cid": record.model_cid,
                    "metrics": metrics.to_dict()})  # fmt: skip
        assert _post(requester, odd.to_bytes(), "decimal number below 2^256") < 500
    assert _post(requester, report(owner)[:-1] + b" " * 5000, "at most") == 413
    update = seal(ledger.identity, ledger.chain_id, "update", job_id, 1, {})
    assert _post(requester, update.to_bytes(), "Expected a 'metrics' message") == 409

    # the owner's own report goes in once; a second, different one for the round does not
    assert _post(requester, report(owner)) == 202
    assert _post(requester, report(owner)) == 202  # the same again: already here
    second = report(owner, scores=replace(metrics, accuracy=0.95))
    assert _post(requester, second, "already reported") == 409
    assert [r.reports for r in requester.metrics(job_id)] == [1]

    # verification from bytes alone refuses a tampered or repeated report
    kept = [r.envelope for r in requester.evaluation.store.reports(job_id)]
    assert len(verify_reports(net.root, job_id, kept)) == 1
    with pytest.raises(ProtocolError, match="report 2 of 2"):
        verify_reports(net.root, job_id, [*kept, second])
    with pytest.raises(ProtocolError, match="report 1 of 1"):
        verify_reports(net.root, job_id, [forged.to_bytes()])


def test_reports_and_metrics_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = EvaluationStore(path)
    metrics = Metrics(10, mse=1.5, mae=1.0, r2=0.2)
    store.set_evaluation(3, tmp_path / "eval.csv", "y")
    store.save_evaluation(3, 1, "bafkmodel", metrics)
    assert store.add_report(StoredReport(3, 1, 2**255, "0xabc", "bafkmodel", metrics, b"{}"))
    assert not store.add_report(StoredReport(3, 1, 2**255, "0xdef", "bafkother", metrics, b"[]"))
    store.close()

    reopened = EvaluationStore(path)

    assert reopened.evaluation_set(3) == (tmp_path / "eval.csv", "y")
    assert reopened.evaluations(3) == {1: ("bafkmodel", metrics)}
    (kept,) = reopened.reports(3)
    assert (kept.sender, kept.envelope, kept.metrics) == ("0xabc", b"{}", metrics)


def test_a_model_that_never_says_fraud_looks_no_better_than_a_coin_on_nodes(
    tmp_path: Path,
) -> None:
    data = card_fraud(2_000, fraud_rate=0.02, seed=1)
    spec = JobSpec(
        "fraud", ModelSpec("logreg", data.num_features, 2), TrainConfig(learning_rate=0.0), seed=1
    )  # the model stays as it starts
    params = init_params(spec.model, 1)
    params["0.weight"][:] = 0.0
    params["0.bias"][:] = [4.0, -4.0]  # "no fraud", whatever the transaction
    net, job_id, requester, _, own = start_job(data, spec, params, hospitals=2)
    requester.set_evaluation(job_id, write_csv(tmp_path / "fraud.csv", own), "label")

    net.run_round(job_id, 1)
    evaluate_everywhere(net, job_id)

    (first,) = requester.metrics(job_id)
    assert first.reports == 2
    for scores in (first.requester, first.federated):
        assert scores is not None and scores.accuracy > 0.95
        assert scores.balanced_accuracy == pytest.approx(0.5)
        assert scores.roc_auc == pytest.approx(0.5)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=12,
)  # fmt: skip
report_fields = st.dictionaries(
    st.sampled_from(["asset_id", "model_cid", "metrics"]) | st.text(max_size=6), json_values,
    max_size=4,
)  # fmt: skip
metric_fields = st.dictionaries(
    st.sampled_from(["examples", "accuracy", "roc_auc", "log_loss", "mse", "r2"])
    | st.text(max_size=6), json_values, max_size=5,
)  # fmt: skip


def test_bad_evaluation_data_is_refused_when_set(tmp_path: Path) -> None:
    net, job_id, requester, hospitals, own = cancer_job(tmp_path)
    with pytest.raises(DainError, match="scores only its own jobs"):
        hospitals[0].set_evaluation(job_id, tmp_path / "eval.csv", "label")
    with pytest.raises(DainError, match="no column named 'diagnosis'"):
        requester.set_evaluation(job_id, tmp_path / "eval.csv", "diagnosis")
    narrow = Dataset("narrow", own.x[:, :5], own.y, own.feature_names[:5], "label", own.classes)
    with pytest.raises(DainError, match=r"of shape \[5\]; the job's model reads \[30\]"):
        requester.set_evaluation(job_id, write_csv(tmp_path / "narrow.csv", narrow), "label")

    # and any report a member signs, whatever its body, gets a 4xx at worst
    record, _ = net.run_round(job_id, 1)
    assert record is not None
    owner = hospitals[0]
    ledger = owner.ledger

    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(fields=report_fields, metrics=metric_fields, named=st.booleans(),
           round_=st.sampled_from([1, 1, 0, 2, 2**31]))  # fmt: skip
    def fuzz(fields: dict, metrics: dict, named: bool, round_: int) -> None:
        body = {"asset_id": str(next(iter(owner.assets))), "model_cid": record.model_cid,
                "metrics": metrics} if named else {}  # fmt: skip
        envelope = seal(ledger.identity, ledger.chain_id, "metrics", job_id, round_,
                        body | fields)  # fmt: skip
        assert requester.handle(Request("POST", "/metrics", envelope.to_bytes())).status < 500

    fuzz()
