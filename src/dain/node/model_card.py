"""A job's model card (issue 13, point 4): what was trained, on whose data under which
consent, with how much privacy, how well it scores and who was paid, every field rebuilt
from chain events and content-addressed blobs, so anyone holding the card can check it.

Written as JSON and as Markdown in the Hugging Face model-card layout (YAML metadata, then
sections). Two kinds of fields: those anyone can rebuild (`build_card` from the chain, the
spec and model blobs and the participants' signed metric reports, which a blob holds), and
the requester's own scores on its private evaluation data, which nobody else can rebuild
and the card says so (`requester_metrics_unverified`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from dain.identity import did_pkh
from dain.learning import combine
from dain.ledger import JobStatus, Ledger, format_dain, format_hash
from dain.node.reports import verify_reports
from dain.node.spec import JobSpec
from dain.storage import canonical_json, parse_json

CARD_VERSION = 1
UNVERIFIED = "requester_metrics_unverified"
Fetch = Callable[[str], bytes]  # a blob by content id (checked against it by the store)


def reports_blob(envelopes: Sequence[bytes]) -> bytes:
    """The participants' signed metric reports, as one blob the card names."""
    return canonical_json({"reports": [e.hex() for e in envelopes]})


def read_reports_blob(data: bytes) -> list[bytes]:
    raw = parse_json(data, max_bytes=64 * 2**20)
    return [bytes.fromhex(e) for e in raw["reports"]]


def build_card(
    ledger: Ledger, job_id: int, fetch: Fetch, reports_cid: str | None,
    requester_metrics: dict[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The card of job `job_id`, from the chain, the blobs `fetch` gives and (when some
    were made) the reports blob `reports_cid`."""
    jobs, chain_id = ledger.jobs, ledger.chain_id
    job = jobs.job(job_id)
    spec = JobSpec.from_bytes(fetch(job.spec_cid))
    records = sorted(jobs.records(job_id), key=lambda r: r.round)
    used = jobs.data_used(job_id=job_id)
    assets: dict[int, dict[str, Any]] = {}
    for use in sorted(used, key=lambda u: (u.asset_id, u.round)):
        entry = assets.setdefault(use.asset_id, {
            "asset_id": f"0x{use.asset_id:064x}", "owner": did_pkh(chain_id, use.owner),
            "policy_versions": [], "rounds_used": 0, "examples": 0, "epsilon": 0.0,
        })  # fmt: skip
        if use.policy_version not in entry["policy_versions"]:
            entry["policy_versions"].append(use.policy_version)
        entry["rounds_used"] += 1
        entry["examples"] += use.num_examples
        entry["epsilon"] = round(entry["epsilon"] + use.epsilon / 1e6, 6)
    paid = [{"asset_id": f"0x{p.asset_id:064x}", "owner": did_pkh(chain_id, p.owner),
             "amount": format_dain(p.amount), "amount_base_units": str(p.amount)}
            for p in jobs.rewards_paid(job_id)]  # fmt: skip
    final = records[-1] if records else None
    federated: dict[str, Any] = {}
    if reports_cid:
        verified = verify_reports(ledger, job_id, read_reports_blob(fetch(reports_cid)))
        by_round: dict[int, list[Any]] = {}
        for report in verified:
            by_round.setdefault(report.round, []).append(report.metrics)
        federated = {str(r): combine(m).to_dict() | {"reports": len(m)}
                     for r, m in sorted(by_round.items())}  # fmt: skip
    privacy = spec.privacy
    card: dict[str, Any] = {
        "card_version": CARD_VERSION,
        "job_id": job_id,
        "chain_id": chain_id,
        "jobs_contract": jobs.address,
        "title": spec.title,
        "purpose": job.purpose,
        "status": job.status.name.lower(),
        "requester": did_pkh(chain_id, job.requester),
        "spec_cid": job.spec_cid,
        "initial_model_cid": jobs.initial_model_cid(job_id),
        "final_model_cid": final.model_cid if final else None,
        # as the round's record holds it: a model over 256 KiB has a UnixFS CID, whose
        # digest is its root node's, not the model's
        "final_model_sha256": format_hash(jobs.round_record(job_id, final.round).model_hash)
        if final else None,
        "model": {"kind": spec.model.kind, "features": spec.model.num_features,
                  "outputs": spec.model.num_classes, "hidden": list(spec.model.hidden),
                  **_layers(spec)},
        "input": None if spec.input is None else {
            "features": list(spec.input.features), "target": spec.input.target,
            "classes": list(spec.input.classes)},
        "strategy": spec.strategy,
        "strategy_options": spec.strategy_options,
        "training": spec.train.to_dict(),
        "rounds": job.rounds,
        "rounds_recorded": len(records),
        "secure_aggregation": job.secure_aggregation,
        "privacy": {
            "level": str(privacy.level), "noise_multiplier": privacy.noise_multiplier,
            "clip_norm": privacy.clip_norm, "delta": privacy.delta,
            "max_epsilon": job.max_epsilon, "epsilon_spent": job.epsilon_spent,
        },
        "assets": list(assets.values()),
        "metrics": {"reports_cid": reports_cid, "federated": federated},
        "rewards_paid": paid,
        "records": [{"round": r.round, "model_cid": r.model_cid, "aggregator":
                     did_pkh(chain_id, r.aggregator), "participants": r.participants,
                     "epsilon": r.epsilon / 1e6, "block": r.block_number,
                     "transaction": "0x" + r.transaction_hash.hex()} for r in records],
    }  # fmt: skip
    if job.status not in (JobStatus.COMPLETED, JobStatus.CANCELLED):
        card["note"] = "The job has not ended: later rounds and rewards are not in this card."
    if requester_metrics:
        card[UNVERIFIED] = {str(k): v for k, v in sorted(requester_metrics.items())}
    return card


def card_differences(claimed: dict[str, Any], rebuilt: dict[str, Any], path: str = "") -> list[str]:
    """Every field whose value in `claimed` differs from `rebuilt`, by its path; the
    requester's unverifiable metrics are left out (they are its word)."""
    found = []
    for key in sorted(set(claimed) | set(rebuilt)):
        if not path and key in (UNVERIFIED, "note"):
            continue
        where = f"{path}.{key}" if path else key
        if key not in rebuilt:
            found.append(f"{where}: in the card, not on chain")
        elif key not in claimed:
            found.append(f"{where}: missing from the card")
        else:
            found += _differ(claimed[key], rebuilt[key], where)
    return found


def _differ(a: Any, b: Any, where: str) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return card_differences(a, b, where)
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in _differ(x, y, f"{where}[{i}]")]  # fmt: skip
    if a != b:
        return [f"{where}: card says {json.dumps(a)}, rebuilt {json.dumps(b)}"]
    return []


def render_card(card: dict[str, Any]) -> str:
    """The card in the Hugging Face layout: YAML metadata, then sections for people. The
    metadata values are written as JSON, which is YAML too."""
    meta = {
        "library_name": "dain", "tags": ["federated-learning", "dain", card["purpose"]],
        "pipeline_tag": "tabular-classification" if card["model"]["outputs"] > 1
        else "tabular-regression",
        "dain_job": card["job_id"], "dain_chain_id": card["chain_id"],
        "dain_jobs_contract": card["jobs_contract"], "model_cid": card["final_model_cid"],
    }  # fmt: skip
    lines = ["---", *(f"{k}: {json.dumps(v)}" for k, v in meta.items()), "---", ""]
    lines += [f"# {card['title']}", "",
              f"Trained by federated learning on dain for the purpose **{card['purpose']}**, "
              f"job {card['job_id']} ({card['status']}) on chain {card['chain_id']}. Every "
              "field below is rebuilt from chain events and content-addressed blobs by "
              f"`dain job card {card['job_id']} --verify CARD.json`.", ""]  # fmt: skip
    if "note" in card:
        lines += [f"> {card['note']}", ""]
    model = card["model"]
    lines += ["## Model details", "",
              f"- Model: {model['kind']} ({model['features']} inputs, {model['outputs']} outputs"
              + (f", hidden {model['hidden']}" if model["hidden"] else "")
              + (f", layers {' > '.join(lay['type'] for lay in model['layers'])}"
                 if model.get("layers") else "") + ")",
              f"- Final model: `{card['final_model_cid']}` (sha256 {card['final_model_sha256']})",
              f"- Started from: `{card['initial_model_cid']}`; spec `{card['spec_cid']}`",
              f"- Requester: {card['requester']}", ""]  # fmt: skip
    if card["input"]:
        lines += [f"- Input columns: {', '.join(card['input']['features'])}; target "
                  f"{card['input']['target']}"
                  + (f" ({', '.join(card['input']['classes'])})" if card["input"]["classes"]
                     else ""), ""]  # fmt: skip
    lines += ["## Training data", "",
              "Data never left its owners; each used asset, under the consent policy versions "
              "in force when it was used:", "",
              "| asset | owner | policy versions | rounds | examples | epsilon |",
              "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    lines += [f"| `{a['asset_id']}` | {a['owner']} | {a['policy_versions']} | {a['rounds_used']} "
              f"| {a['examples']} | {a['epsilon']:.4g} |" for a in card["assets"]]  # fmt: skip
    privacy = card["privacy"]
    lines += ["", "## Training procedure", "",
              f"- Strategy: {card['strategy']} {card['strategy_options'] or ''}",
              f"- Rounds: {card['rounds_recorded']} of {card['rounds']}; local training "
              f"{card['training']}",
              f"- Secure aggregation: {'yes' if card['secure_aggregation'] else 'no'}",
              f"- Differential privacy: {privacy['level']}"
              + (f", noise multiplier {privacy['noise_multiplier']:.4g}, clip "
                 f"{privacy['clip_norm']}, delta {privacy['delta']}; epsilon spent "
                 f"{privacy['epsilon_spent']:.4g} of {privacy['max_epsilon']}"
                 if privacy["level"] != "none" else ""), ""]  # fmt: skip
    lines += ["## Evaluation", ""]
    federated = card["metrics"]["federated"]
    if federated:
        lines += ["Participants' signed reports on their own held-out rows, combined by "
                  f"examples (reports blob `{card['metrics']['reports_cid']}`):", "",
                  "| round | reports | examples | accuracy | balanced accuracy | ROC AUC |",
                  "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
        lines += [f"| {r} | {m['reports']} | {m['examples']} | {_score(m, 'accuracy')} | "
                  f"{_score(m, 'balanced_accuracy')} | {_score(m, 'roc_auc')} |"
                  for r, m in federated.items()]  # fmt: skip
    else:
        lines += ["No participant reported metrics."]
    if card.get(UNVERIFIED):
        lines += ["", "The requester's own scores on its private evaluation data (its word: "
                  "nobody else can rebuild them):", "",
                  "| round | accuracy | balanced accuracy | ROC AUC |",
                  "| --- | --- | --- | --- |"]  # fmt: skip
        lines += [f"| {r} | {_score(m, 'accuracy')} | {_score(m, 'balanced_accuracy')} | "
                  f"{_score(m, 'roc_auc')} |" for r, m in card[UNVERIFIED].items()]  # fmt: skip
    lines += ["", "## Rewards", ""]
    lines += [f"- `{p['asset_id']}` ({p['owner']}): {p['amount']}" for p in card["rewards_paid"]]
    if not card["rewards_paid"]:
        lines += ["None claimed yet."]
    lines += ["", "## Provenance", "", "| round | participants | epsilon | block | transaction |",
              "| --- | --- | --- | --- | --- |"]  # fmt: skip
    lines += [f"| {r['round']} | {r['participants']} | {r['epsilon']:.4g} | {r['block']} | "
              f"`{r['transaction']}` |" for r in card["records"]]  # fmt: skip
    return "\n".join(lines) + "\n"


def _score(metrics: dict[str, Any], key: str) -> str:
    value = metrics.get(key)
    return "-" if value is None else f"{value:.3f}"


def _layers(spec: JobSpec) -> dict[str, object]:
    """A layer model's input shape and layers (the presets' cards stay as they were)."""
    model = spec.model
    if model.kind != "layers":
        return {}
    return {"input_shape": list(model.input_shape),
            "layers": [lay.to_dict() for lay in model.layers]}  # fmt: skip
