"""The "My data" page against a real node on the embedded chain: it lists the node's
assets with their terms, every use as `dain audit asset` reads it, and earnings as
`dain rewards` computes them; revoking and claiming through it change the chain."""

from __future__ import annotations

from collections.abc import Callable

from dain.cli.rewards import earnings as cli_earnings
from dain.data import format_asset_id
from dain.ledger import Auditor, format_dain
from dain.web import PREFIX
from tests.web.conftest import OwnerNet, client_for, csrf_of, log_in
from tests.web.html import read


def _when(timestamp: int) -> str:  # as `dain audit` writes it
    import datetime as dt

    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def test_the_page_lists_each_asset_with_its_terms(shared: OwnerNet) -> None:
    client = client_for(shared.hospital)
    log_in(client)

    page = read(client.get(f"{PREFIX}/data").text)

    for asset_id in (shared.used, shared.idle):
        terms = dict(page.tables[(format_asset_id(asset_id), "terms")])
        policy = shared.hospital.ledger.assets.policy(asset_id).policy
        assert terms["status"] == "granted"
        assert terms["purposes"] == ", ".join(policy.purposes)
        assert terms["price per round"] == format_dain(policy.price_per_round)
    idle = dict(page.tables[(format_asset_id(shared.idle), "terms")])
    assert idle["epsilon cap"] == "4"
    assert idle["secure aggregation"] == "required"
    assert idle["allowed requesters"] == "any member"


def test_uses_and_earnings_match_what_audit_and_rewards_read(shared: OwnerNet) -> None:
    client = client_for(shared.hospital)
    log_in(client)
    ledger = shared.hospital.ledger

    page = read(client.get(f"{PREFIX}/data").text)

    for asset_id in (shared.used, shared.idle):
        trail = Auditor(ledger).asset(asset_id)
        rows = page.tables.get((format_asset_id(asset_id), "uses"), [])[1:]  # after the header
        assert rows == [
            [_when(u.timestamp), str(u.job_id), str(u.round), u.purpose, str(u.policy_version),
             str(u.num_examples), str(u.block)]
            for u in trail.uses
        ]  # fmt: skip
    assert len(page.tables[(format_asset_id(shared.used), "uses")]) == 1 + 2  # one use per job
    assert (format_asset_id(shared.idle), "uses") not in page.tables
    shown = page.tables[(format_asset_id(shared.used), "earnings")][1:]
    expected = cli_earnings(ledger, [shared.used])
    assert [[r[0], r[1], r[2], r[3]] for r in shown] == [
        [str(e["job_id"]), e["status"], str(e["rounds_used"]), e["claimed"]] for e in expected
    ]
    assert [r[4] for r in shown] == [e["claimable"] for e in expected]


def test_revoking_on_the_page_revokes_on_chain_and_the_next_round_leaves_it_out(
    fresh: Callable[[], OwnerNet],
) -> None:
    n = fresh()
    client = client_for(n.hospital)
    log_in(client)
    where = f"{PREFIX}/data/{format_asset_id(n.used)}/revoke"

    confirm = client.get(where)
    csrf = csrf_of(confirm.text)
    done = client.post(where, data={"csrf": csrf})

    assert confirm.status_code == 200
    assert f"Job {n.running_job}, at round 1 of 2" in confirm.text  # the consequence, named
    assert "next rounds leave it out" in confirm.text
    assert done.status_code == 200, done.text
    assert "revoked from block" in done.text
    assert n.hospital.ledger.assets.policy(n.used).revoked
    n.net.run_round(n.running_job, 2)
    used = {(u.round, u.asset_id) for u in n.net.root.jobs.data_used(job_id=n.running_job)}
    assert (1, n.used) in used and (2, n.used) not in used
    page = read(client.get(f"{PREFIX}/data").text)
    assert dict(page.tables[(format_asset_id(n.used), "terms")])["status"] == "revoked"
    again = client.post(where, data={"csrf": csrf})  # as the CLI: already revoked, and a hint
    assert again.status_code == 400
    assert "already revoked" in again.text and "dain consent grant" in again.text
    assert "Traceback" not in again.text


def test_claiming_on_the_page_pays_what_was_owed(fresh: Callable[[], OwnerNet]) -> None:
    n = fresh()
    client = client_for(n.hospital)
    csrf = log_in(client)
    owed = n.hospital.ledger.jobs.owed(n.done_job, n.used)

    done = client.post(f"{PREFIX}/data/claim", data={"csrf": csrf})

    assert done.status_code == 200, done.text
    paid = n.hospital.ledger.jobs.rewards_paid(n.done_job, asset_id=n.used)
    assert [p.amount for p in paid] == [owed] and owed > 0
    assert f"Claimed {format_dain(owed)} in all." in done.text
    page = read(client.get(f"{PREFIX}/data").text)
    row = page.tables[(format_asset_id(n.used), "earnings")][1]
    assert row[0] == str(n.done_job) and row[3] == format_dain(owed)
    again = client.post(f"{PREFIX}/data/claim", data={"csrf": csrf})
    assert "Nothing to claim now." in again.text


def test_an_asset_not_of_this_node_is_an_error_page_not_a_trace(shared: OwnerNet) -> None:
    client = client_for(shared.hospital)
    log_in(client)

    answer = client.get(f"{PREFIX}/data/0x{'ab' * 32}/revoke")

    assert answer.status_code == 404
    assert "This node holds no asset" in answer.text and "Traceback" not in answer.text
    assert 'class="hint"' in answer.text
