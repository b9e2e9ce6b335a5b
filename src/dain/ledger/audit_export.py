"""An audit trail as a file, shared by `dain audit ... --json|--csv` and the dashboard's
downloads: JSON is the trail's `to_dict()`, as `--json` always printed it; CSV has one row
per event, its `kind` first, asset ids as 0x hex and amounts as exact base units.

Purposes, DIDs and content ids on chain are chosen by other members; a spreadsheet reads a
cell starting with = + - @ (or tab, CR) as a formula, so such a cell is prefixed with a
quote (OWASP's "CSV injection" advice)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import asdict
from typing import Any

from dain.data import format_asset_id
from dain.ledger.audit import AssetTrail, JobTrail, MemberTrail

Trail = AssetTrail | JobTrail | MemberTrail
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def trail_json(trail: Trail) -> str:
    """The document `--json` prints (without the final newline `echo` adds)."""
    return json.dumps(trail.to_dict(), indent=2, default=str)


def trail_csv(trail: Trail) -> str:
    """One row per event, under a header naming every column any row has."""
    rows = trail_rows(trail)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({k: neutralize(_cell(v)) for k, v in row.items()} for row in rows)
    return out.getvalue()


def neutralize(cell: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # as in the JSON
    return str(value)  # ints whole: base units exceed a float's 53 bits


def utc(timestamp: int) -> str:
    """A chain time as `dain audit` writes it."""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def trail_rows(trail: Trail) -> list[dict[str, Any]]:
    """The trail's events, in the order the trail lists them."""
    if isinstance(trail, AssetTrail):
        return _asset_rows(trail)
    if isinstance(trail, JobTrail):
        return _job_rows(trail)
    return _member_rows(trail)


def _asset_rows(trail: AssetTrail) -> list[dict[str, Any]]:
    asset = format_asset_id(trail.asset_id)
    rows: list[dict[str, Any]] = [{"kind": "asset", "asset_id": asset, "owner": trail.owner}]
    for v in trail.policy_versions:
        if v.get("revoked"):
            rows.append({"kind": "revocation", "version": v["version"], "block": v["block"]})
        else:
            rows.append({"kind": "policy_version", "version": v["version"],
                         "policy_cid": v["policy_cid"], "block": v["block"]})  # fmt: skip
    for u in trail.uses:
        rows.append({"kind": "use", **asdict(u), "time_utc": utc(u.timestamp)})
    rows += [_payment(p) for p in trail.paid]
    rows += [{"kind": "owed", "job_id": job, "amount": owed} for job, owed in trail.owed.items()]
    return rows


def _job_rows(trail: JobTrail) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [{"kind": "job", "job_id": trail.job_id,
                                   "requester": trail.requester, "purpose": trail.purpose,
                                   "status": trail.status}]  # fmt: skip
    rows += [{"kind": "round", **r} for r in trail.rounds]
    rows += [{"kind": "use", **u, "asset_id": format_asset_id(u["asset_id"])} for u in trail.uses]
    rows += [_payment(p) for p in trail.paid]
    if trail.refunded:  # the trail keeps the total refunded, not each refund
        rows.append({"kind": "refund", "owner": trail.requester, "amount": trail.refunded})
    return rows


def _member_rows(trail: MemberTrail) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [{"kind": "member", "address": trail.address, "did": trail.did,
                                   "admitted": trail.admitted}]  # fmt: skip
    rows += [{"kind": "asset", "asset_id": format_asset_id(a)} for a in trail.assets]
    rows += [{"kind": "job_requested", "job_id": j} for j in trail.jobs_requested]
    rows.append({"kind": "uses_of_their_data", "count": trail.uses_of_their_data})
    rows.append({"kind": "rewards_received", "amount": trail.rewards_received})
    rows += [{"kind": "reputation", "name": k, "count": v} for k, v in trail.reputation.items()]
    return rows


def _payment(p: Any) -> dict[str, Any]:
    return {"kind": "payment", "job_id": p.job_id, "asset_id": format_asset_id(p.asset_id),
            "owner": p.owner, "amount": p.amount, "block": p.block}  # fmt: skip
