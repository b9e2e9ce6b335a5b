"""The dashboard in headless Chromium against real node processes on anvil: what a data
owner, a requester and a member do on its pages changes the chain, and the pages show what
the chain and the CLI say. Screenshots go to each test's folder under test-results/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from dain.ledger import format_dain
from tests.web.browser import OWNERS, World

pytestmark = pytest.mark.slow


def test_an_owner_revokes_on_the_page_and_the_running_jobs_next_rounds_leave_it_out(
    world: World, chromium: Browser, results: Path
) -> None:
    owner, rounds = OWNERS[1], 12
    job_id, proposal = world.propose(rounds, seed=11)
    world.approve(proposal, list(world.ledgers))
    world.enroll_all(job_id)
    page = world.page(chromium, owner)
    page.goto(world.url(owner, f"/data/{world.asset_hex(owner)}/revoke"))

    world.researcher().jobs.start(job_id)
    world.wait_round(job_id, 1)
    page.reload()  # the confirmation names the running job and its round
    page.screenshot(path=results / "1-confirm-revoke.png", full_page=True)
    assert f"Job {job_id}, at round" in page.inner_text("main")
    page.get_by_role("button", name="Revoke consent").click()
    page.get_by_role("heading", name="Consent revoked").wait_for()
    page.screenshot(path=results / "2-revoked.png", full_page=True)
    world.wait_round(job_id, rounds)

    jobs = world.root.jobs
    asset = world.assets[owner]
    assert world.root.assets.policy(asset).revoked
    used_in = sorted(u.round for u in jobs.data_used(job_id=job_id, asset_id=asset))
    last = used_in[-1]
    assert used_in == list(range(1, last + 1)) and last < rounds  # then never again
    for later in range(last + 1, rounds + 1):  # the others trained on without it
        users = {u.asset_id for u in jobs.data_used(job_id=job_id) if u.round == later}
        assert users == {world.assets[o] for o in OWNERS if o != owner}, later

    world.researcher().jobs.complete(job_id)
    page.goto(world.url(owner, "/data"))
    page.get_by_role("button", name="Claim all earnings").click()
    page.get_by_role("heading", name="Earnings claimed").wait_for()
    page.screenshot(path=results / "3-claimed.png", full_page=True)
    page.goto(world.url(owner, "/data"))
    page.screenshot(path=results / "4-my-data.png", full_page=True)

    section = page.locator(f"#asset-{world.asset_hex(owner)}")
    shown = [
        [cell.strip() for cell in row.locator("td").all_inner_texts()]
        for row in section.locator("table.uses tbody tr").all()
    ]
    audit = json.loads(world.dain("audit", "asset", world.asset_hex(owner), "--json",
                                  "--home", str(world.cluster.home.root)))  # fmt: skip
    assert shown == [
        [_when(u["timestamp"]), str(u["job_id"]), str(u["round"]), u["purpose"],
         str(u["policy_version"]), str(u["num_examples"]), str(u["block"])]
        for u in audit["uses"]
    ]  # fmt: skip
    assert sum(1 for u in audit["uses"] if u["job_id"] == job_id) == last
    paid = sum(int(p["amount"]) for p in audit["paid"])
    owed = sum(int(v) for v in audit["owed"].values())
    assert paid > 0 and owed == 0
    assert section.locator(".totals").inner_text() == (
        f"Paid: {format_dain(paid)}; waiting to be claimed: {format_dain(owed)}."
    )


def test_an_action_without_the_access_token_is_refused(
    world: World, chromium: Browser, results: Path
) -> None:
    owner = OWNERS[0]
    asset = world.assets[owner]
    where = world.url(owner, f"/data/{world.asset_hex(owner)}/revoke")
    stranger = chromium.new_context(ignore_https_errors=True).new_page()

    stranger.goto(where)  # a page to act from: the login form instead
    assert stranger.url == world.url(owner, "/login")
    stranger.get_by_label("Access token").fill("a guess at the token, long enough")
    stranger.get_by_role("button", name="Log in").click()
    refused_login = stranger.get_by_role("alert").inner_text()
    stranger.screenshot(path=results / "1-wrong-token.png", full_page=True)
    # the owner's own form, CSRF token and all, submitted from a browser without the session
    form = world.page(chromium, owner)
    form.goto(where)
    csrf = form.locator("input[name=csrf]").first.get_attribute("value")
    stranger.goto(world.url(owner, "/login"))
    stranger.evaluate(
        """([action, csrf]) => {
            const form = document.createElement("form");
            form.method = "post"; form.action = action;
            const field = document.createElement("input");
            field.type = "hidden"; field.name = "csrf"; field.value = csrf;
            form.append(field); document.body.append(form); form.submit();
        }""",
        [where, csrf],
    )
    stranger.wait_for_load_state()
    stranger.screenshot(path=results / "2-refused.png", full_page=True)

    assert "not this node's access token" in refused_login
    assert "Refused: log in with the node's access token first" in stranger.inner_text("body")
    assert not world.root.assets.policy(asset).revoked


def _when(timestamp: int) -> str:  # as `dain audit` and the page write chain times
    import datetime as dt

    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
