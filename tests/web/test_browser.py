"""The dashboard in headless Chromium against real node processes on anvil: what a data
owner, a requester and a member do on its pages changes the chain, and the pages show what
the chain and the CLI say. Screenshots go to each test's folder under test-results/."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from dain.devnet.cluster import RESEARCHER
from dain.ledger import format_dain
from dain.node import NodeHome, home_metrics
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


def test_a_requesters_job_page_updates_its_accuracy_curve_live(
    world: World, chromium: Browser, results: Path
) -> None:
    rounds = 6
    job_id, proposal = world.propose_with_cli(rounds)
    world.approve(proposal, list(world.ledgers))
    world.enroll_all(job_id)
    page = world.page(chromium, RESEARCHER)
    page.goto(world.url(RESEARCHER, f"/jobs/{job_id}"))
    # the stream's first event (the job as it stands) has arrived: the script says when; a
    # wait for the text it shows while connecting would race that event
    page.get_by_text(re.compile(rf"^Live: updated at .* \(round 0 of {rounds}\)")).wait_for()
    page.evaluate("window.loadedOnce = true")  # gone if the page were loaded again
    points_before = page.locator("#job-metric-chart circle").count()
    page.screenshot(path=results / "1-before-start.png", full_page=True)

    starter = page.context.new_page()  # the requester starts it from the page, in a new tab
    starter.goto(world.url(RESEARCHER, f"/jobs/{job_id}/start"))
    starter.get_by_role("button", name=f"Start job {job_id}").click()
    starter.wait_for_load_state()
    starter.screenshot(path=results / "2-started.png", full_page=True)
    world.wait_round(job_id, rounds)
    scored = NodeHome(world.home(RESEARCHER)).state
    rows = page.locator("#job-rounds tr")
    world.wait(  # the requester's own score of every round, shown as it came
        "the page to show every round's score",
        lambda: (
            rows.count() >= rounds
            and all("requester: accuracy" in row for row in rows.all_inner_texts())
        ),
    )
    page.screenshot(path=results / "3-after-rounds.png", full_page=True)

    assert points_before == 0
    assert page.evaluate("window.loadedOnce") is True  # updated in place, never reloaded
    assert page.locator("#job-metric-chart circle").count() >= rounds
    assert "No metrics" not in page.locator("#job-metric-caption").inner_text()
    assert f"of round {rounds} " in page.locator("#job-model").inner_text()
    own = {m.round: m.requester.accuracy for m in home_metrics(scored, job_id) if m.requester}
    shown = page.locator("#job-rounds tr").all_inner_texts()
    assert len(own) == rounds
    for row, (round_no, accuracy) in zip(shown, sorted(own.items()), strict=True):
        assert row.split()[0] == str(round_no)
        assert f"requester: accuracy {accuracy:.3f}" in row
    assert own[rounds] > 0.85  # a model that learned, not just a line that moved


def test_a_member_votes_on_the_page_and_the_tally_changes_on_chain(
    world: World, chromium: Browser, results: Path
) -> None:
    voter = OWNERS[2]
    gov = world.root.gov
    _, proposal = world.propose(rounds=2, seed=13)
    world.root.backend.mine(gov.snapshot(proposal) - world.root.block_number() + 1)  # voting opens
    weight = world.root.token.votes(world.ledgers[voter].address, gov.snapshot(proposal))
    page = world.page(chromium, voter)
    page.goto(world.url(voter, f"/governance/{proposal.proposal_id}"))
    page.screenshot(path=results / "1-proposal.png", full_page=True)
    before = gov.tally(proposal)

    page.get_by_role("button", name="Vote for").click()
    page.get_by_role("status").wait_for()
    page.screenshot(path=results / "2-voted.png", full_page=True)

    after = gov.tally(proposal)
    assert weight > 0
    assert after.for_ == before.for_ + weight
    assert (after.against, after.abstain) == (before.against, before.abstain)
    assert gov.has_voted(proposal, world.ledgers[voter].address)
    assert "for, with" in page.locator("table.vote").inner_text()  # the page shows it too


def test_an_action_without_the_access_token_is_refused(
    world: World, chromium: Browser, results: Path
) -> None:
    owner = OWNERS[0]
    asset = world.assets[owner]
    where = world.url(owner, f"/data/{world.asset_hex(owner)}/revoke")
    stranger = chromium.new_context(ignore_https_errors=True).new_page()

    stranger.goto(where)  # a page to act from: the login form instead
    assert stranger.url == world.url(owner, "/login")
    stranger.get_by_label("Access token or keystore password").fill("a guess, long enough")
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

    assert "neither this node's access token nor its keystore's password" in refused_login
    assert "Refused: log in with the node's access token first" in stranger.inner_text("body")
    assert not world.root.assets.policy(asset).revoked


def _when(timestamp: int) -> str:  # as `dain audit` and the page write chain times
    import datetime as dt

    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def test_the_dashboard_is_usable_from_the_keyboard(
    world: World, chromium: Browser, results: Path
) -> None:
    owner = OWNERS[0]
    page = chromium.new_context(ignore_https_errors=True).new_page()
    page.goto(world.url(owner, "/login"))

    for _ in range(5):  # to the token field (autofocus is not a promise headless Chromium keeps)
        if page.evaluate("document.activeElement.id") == "token":
            break
        page.keyboard.press("Tab")
    page.keyboard.type(world.token(owner))
    page.keyboard.press("Enter")
    page.wait_for_url(world.url(owner, "/data"))
    reached = []
    for _ in range(12):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.textContent.trim()"))
    page.screenshot(path=results / "1-focus.png", full_page=True)
    while page.evaluate("document.activeElement.textContent.trim()") != "Governance":
        page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(world.url(owner, "/governance"))

    for name in ("My data", "Jobs", "Governance", "Audit", "Log out", "Change terms…",
                 "Revoke consent…"):  # fmt: skip
        assert name in reached, reached
