"""An audit trail as CSV, on trails written out by hand: one row per event under one header,
asset ids in hex, amounts exact past a float's 53 bits, and a cell a spreadsheet would run
as a formula (a purpose, DID or content id someone else chose) kept as text."""

from __future__ import annotations

import csv
import io
import json

import pytest

from dain.ledger import AssetTrail, JobTrail, MemberTrail, trail_csv, trail_json
from dain.ledger.audit import Payment, Use
from dain.ledger.audit_export import neutralize

ASSET = 0xAB << 248  # its hex form starts with digits that matter
BIG = 12_345_678_901_234_567_891  # base units: more than a float holds exactly
HYPERLINK = '=HYPERLINK("http://evil.example","x")'


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_a_spreadsheet_would_run_is_quoted(start: str) -> None:
    assert neutralize(start + "1+1") == "'" + start + "1+1"


def test_plain_cells_stay_as_they_are() -> None:
    for cell in ("diagnosis", "0xab", "did:pkh:eip155:1:0xab", "12", "", "a=b"):
        assert neutralize(cell) == cell


def test_the_asset_csv_has_one_row_per_event_with_a_formula_kept_text() -> None:
    trail = AssetTrail(
        ASSET, "0xOwner",
        policy_versions=[{"version": 1, "policy_cid": "@cid", "block": 3},
                         {"version": 2, "revoked": True, "block": 9}],
        uses=[Use(4, "0xReq", 1, HYPERLINK, 1, 150, 5, 86_400, "0xtx")],
        paid=[Payment(4, ASSET, "0xOwner", BIG, 8)],
        owed={7: BIG + 1},
    )  # fmt: skip

    rows = _rows(trail_csv(trail))

    assert [r["kind"] for r in rows] == [
        "asset", "policy_version", "revocation", "use", "payment", "owed"
    ]  # fmt: skip
    assert rows[0]["asset_id"] == "0xab" + "0" * 62
    assert rows[1]["policy_cid"] == "'@cid"
    assert rows[2]["version"] == "2" and rows[2]["policy_cid"] == ""
    assert rows[3]["purpose"] == "'" + HYPERLINK
    assert rows[3]["time_utc"] == "1970-01-02 00:00:00" and rows[3]["timestamp"] == "86400"
    assert int(rows[4]["amount"]) == BIG and rows[4]["asset_id"] == rows[0]["asset_id"]
    assert (rows[5]["job_id"], int(rows[5]["amount"])) == ("7", BIG + 1)


def test_the_job_and_member_csv() -> None:
    job = JobTrail(
        3, "0xReq", "-purpose", "completed",
        rounds=[{"round": 1, "model_cid": "cid", "aggregator": "0xAgg", "participants": 2,
                 "epsilon": 1.5, "block": 4}],
        uses=[{"round": 1, "asset_id": ASSET, "owner": "0xO", "policy_version": 1,
               "num_examples": 10, "block": 4}],
        paid=[Payment(3, ASSET, "0xO", 5, 6)], refunded=BIG,
    )  # fmt: skip
    member = MemberTrail("0xM", "+did", True, assets=[ASSET], jobs_requested=[3],
                         rewards_received=BIG, reputation={"rounds_completed": 2})  # fmt: skip

    job_rows, member_rows = _rows(trail_csv(job)), _rows(trail_csv(member))

    assert [r["kind"] for r in job_rows] == ["job", "round", "use", "payment", "refund"]
    assert job_rows[0]["purpose"] == "'-purpose" and job_rows[1]["epsilon"] == "1.5"
    assert job_rows[2]["asset_id"] == "0xab" + "0" * 62
    assert int(job_rows[4]["amount"]) == BIG and job_rows[4]["owner"] == "0xReq"
    assert [r["kind"] for r in member_rows] == [
        "member", "asset", "job_requested", "uses_of_their_data", "rewards_received", "reputation"
    ]  # fmt: skip
    assert member_rows[0]["did"] == "'+did" and member_rows[0]["admitted"] == "true"
    assert int(member_rows[4]["amount"]) == BIG
    assert (member_rows[5]["name"], member_rows[5]["count"]) == ("rounds_completed", "2")


def test_the_json_is_the_trails_document() -> None:
    trail = MemberTrail("0xM", "", False, rewards_received=BIG)

    assert json.loads(trail_json(trail)) == trail.to_dict()
    assert json.loads(trail_json(trail))["rewards_received"] == str(BIG)  # safe for JS
