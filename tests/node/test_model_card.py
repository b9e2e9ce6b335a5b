"""The model card rebuilds from the chain and the blobs alone: a true card verifies field by
field, and each tampered field is named (issue 13, point 4)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from dain.node import build_card, card_differences, render_card, reports_blob
from tests.node.test_evaluation_on_nodes import ROUNDS, cancer_job, evaluate_everywhere


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    net, job_id, requester, hospitals, _ = cancer_job(tmp_path_factory.mktemp("card"))
    for round_no in range(1, ROUNDS + 1):
        record, _ = net.run_round(job_id, round_no)
        assert record is not None
        evaluate_everywhere(net, job_id)
    requester.ledger.jobs.complete(job_id)
    for hospital in hospitals:
        for asset in hospital.assets:
            hospital.ledger.jobs.claim(job_id, asset)
    reports = [r.envelope for r in requester.evaluation.store.reports(job_id)]
    reports_cid = requester.blobs.put(reports_blob(reports))
    own = {m.round: m.requester.to_dict() for m in requester.metrics(job_id) if m.requester}
    card = build_card(requester.ledger, job_id, requester.blobs.get, reports_cid, own)
    return net, job_id, requester, hospitals, card


def test_a_true_card_has_every_field_and_verifies_from_the_chain(finished) -> None:  # type: ignore[no-untyped-def]
    net, job_id, requester, hospitals, card = finished
    assert card["status"] == "completed" and card["rounds_recorded"] == ROUNDS
    assert len(card["assets"]) == 3 and all(a["rounds_used"] == ROUNDS for a in card["assets"])
    assert all(a["owner"].startswith("did:pkh:eip155:") for a in card["assets"])
    assert [r["round"] for r in card["records"]] == [1, 2]
    assert all(r["transaction"].startswith("0x") and r["block"] > 0 for r in card["records"])
    assert card["final_model_cid"] == net.root.jobs.job(job_id).model_cid
    assert card["initial_model_cid"] != card["final_model_cid"]
    assert len(card["rewards_paid"]) == 3
    assert card["metrics"]["federated"]["2"]["reports"] == 3
    assert card["requester_metrics_unverified"]["2"]["accuracy"] > 0.8
    # anyone (here a hospital, with its own key and blob access) rebuilds the same card
    hospital = hospitals[0]
    holders = hospital.ctx.chain.holders(hospital.ledger.jobs.job(job_id))

    def fetch(cid: str) -> bytes:
        return hospital.blobs.get(cid) if hospital.blobs.has(cid) else requester.blobs.get(cid)

    rebuilt = build_card(hospital.ledger, job_id, fetch, card["metrics"]["reports_cid"])
    assert holders and card_differences(json.loads(json.dumps(card)), rebuilt) == []


@pytest.mark.parametrize(
    ("field", "tamper"),
    [
        ("assets[0].examples", lambda c: c["assets"][0].__setitem__("examples", 10**6)),
        ("final_model_cid", lambda c: c.__setitem__("final_model_cid", "bafkreibogus")),
        ("records[1].transaction", lambda c: c["records"][1].__setitem__("transaction", "0x00")),
        ("rewards_paid[2].amount_base_units",
         lambda c: c["rewards_paid"][2].__setitem__("amount_base_units", "1")),
        ("privacy.epsilon_spent", lambda c: c["privacy"].__setitem__("epsilon_spent", 0.5)),
        ("metrics.federated.2.accuracy",
         lambda c: c["metrics"]["federated"]["2"].__setitem__("accuracy", 0.999)),
        ("assets: ", lambda c: c["assets"].pop()),
    ],
)  # fmt: skip
def test_a_tampered_card_names_the_field(finished, field: str, tamper) -> None:  # type: ignore[no-untyped-def]
    net, job_id, requester, _, card = finished
    claimed = copy.deepcopy(card)
    tamper(claimed)
    rebuilt = build_card(net.root, job_id, requester.blobs.get, card["metrics"]["reports_cid"])
    wrong = card_differences(claimed, rebuilt)
    assert len(wrong) == 1 and wrong[0].startswith(field), wrong


def test_the_markdown_has_metadata_then_sections(finished, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    *_, card = finished
    text = render_card(card)
    head, _, body = text.removeprefix("---\n").partition("\n---\n")
    meta = {k: json.loads(v) for k, v in (line.split(": ", 1) for line in head.splitlines())}
    assert meta["library_name"] == "dain" and meta["model_cid"] == card["final_model_cid"]
    for section in ("## Model details", "## Training data", "## Training procedure",
                    "## Evaluation", "## Rewards", "## Provenance"):  # fmt: skip
        assert section in body
    assert card["records"][0]["transaction"] in body
