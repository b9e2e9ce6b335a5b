"""The Jobs pages against real nodes on the embedded chain: the list and a job's page show
what `dain job list` / `dain job show` compute (the same `job_row` and `job_details`),
with the metrics the node keeps and the privacy spent in the table and the charts; the
model card and model download; starting and completing from the page change the chain;
and everything that must be refused is."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from dain.ledger import JobStatus
from dain.node import build_card, card_differences, job_details, job_row, metrics_text
from dain.storage import verify
from dain.web import PREFIX
from tests.web.conftest import client_for, csrf_of, log_in
from tests.web.html import read
from tests.web.jobs_net import JobsNet, jobs_net


@pytest.fixture(scope="module")
def jn() -> JobsNet:
    """One network for the tests that only read."""
    return jobs_net()


def _svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(s) for s in re.findall(r"<svg.*?</svg>", html, re.S)]


def test_the_list_shows_job_list_rows_newest_first_marked_for_this_node(jn: JobsNet) -> None:
    n = jn.owners
    requester, hospital = client_for(n.requester), client_for(n.hospital)
    log_in(requester), log_in(hospital)
    jobs = n.requester.ledger.jobs

    as_requester = read(requester.get(f"{PREFIX}/jobs").text)
    as_hospital = read(hospital.get(f"{PREFIX}/jobs").text)

    rows = as_requester.tables[("", "jobs")][1:]
    expected = [job_row(jobs.job(j)) for j in range(jobs.count(), 0, -1)]
    assert [r[:6] for r in rows] == [
        [str(e["job_id"]), e["purpose"], e["status"], f"{e['round']}/{e['rounds']}", e["pool"],
         e["requester"]] for e in expected
    ]  # fmt: skip
    assert {r[6] for r in rows} == {"yours"}
    marks = {r[0]: r[6] for r in as_hospital.tables[("", "jobs")][1:]}
    assert marks == {str(j): "your data" for j in range(1, jobs.count() + 1)}  # all enrolled
    for job_id in range(1, jobs.count() + 1):
        assert f"{PREFIX}/jobs/{job_id}" in as_requester.links


def test_a_job_page_shows_what_job_show_computes(jn: JobsNet) -> None:
    n = jn.owners
    client = client_for(n.requester)
    log_in(client)
    ledger = n.requester.ledger

    page = read(client.get(f"{PREFIX}/jobs/{n.running_job}").text)
    details = job_details(ledger, ledger.jobs.job(n.running_job))

    terms = dict(page.tables[("terms", "terms")])
    assert terms["status"] == "running"
    assert terms["rounds"] == f"1 of 2 recorded, {details['round_duration_s']} s each"
    assert terms["reward pool"] == details["pool"]
    assert terms["assets"] == f"{details['assets_enrolled']} enrolled (at most 100)"
    assert terms["privacy"] == "epsilon no bound (not private)"
    assert terms["secure aggregation"] == "no"
    assert terms["requester"] == details["requester"] == n.requester.address
    assert (terms["spec"], terms["model"]) == (details["spec_cid"], details["model_cid"])
    assert terms["now"].startswith(f"round 2: aggregator {details['aggregator_now']}")
    rows = page.tables[("rounds", "rounds")][1:]
    assert rows == [[str(r["round"]), str(r["participants"]), f"{r['epsilon']:.3g}",
                     r["aggregator"], "-", str(r["block"])]
                    for r in details["rounds_recorded"]]  # fmt: skip


def test_metrics_and_epsilon_appear_in_the_table_and_the_charts(jn: JobsNet) -> None:
    n = jn.owners
    client = client_for(n.requester)
    log_in(client)
    ledger = n.requester.ledger
    job = ledger.jobs.job(jn.private_job)
    (kept,) = n.requester.metrics(jn.private_job)
    (record,) = job_details(ledger, job)["rounds_recorded"]

    html = client.get(f"{PREFIX}/jobs/{jn.private_job}").text
    page = read(html)

    assert kept.requester is not None and kept.federated is not None
    assert record["epsilon"] > 0
    terms = dict(page.tables[("terms", "terms")])
    assert terms["privacy"] == f"epsilon {job.epsilon_spent:.3g} of 10"
    (row,) = page.tables[("rounds", "rounds")][1:]
    assert row[2] == f"{record['epsilon']:.3g}"
    assert row[4] == metrics_text(kept.to_dict())
    assert f"requester: accuracy {kept.requester.accuracy:.3f}" in row[4]
    metric, epsilon = _svgs(html)
    svg = "{http://www.w3.org/2000/svg}"
    points = {p.find(f"{svg}title").text for p in metric.iter(f"{svg}circle")}
    assert points == {f"requester accuracy: 1, {kept.requester.accuracy:.4g}",
                      f"federated accuracy: 1, {kept.federated.accuracy:.4g}"}  # fmt: skip
    assert metric.find(f"{svg}title").text == f"Job {jn.private_job}: accuracy per round"
    (spent,) = [p.find(f"{svg}title").text for p in epsilon.iter(f"{svg}circle")]
    assert spent == f"epsilon: 1, {record['epsilon']:.4g}"


def test_the_page_reads_without_script_and_loads_only_its_own_deferred(jn: JobsNet) -> None:
    n = jn.owners
    client = client_for(n.requester)
    log_in(client)

    running = client.get(f"{PREFIX}/jobs/{n.running_job}")
    done = client.get(f"{PREFIX}/jobs/{n.done_job}")

    scripts = re.findall(r"<script[^>]*>", running.text)
    assert scripts == [f'<script src="{PREFIX}/static/jobs.js" defer>']
    assert "</script>" in running.text and "style=" not in running.text
    assert f'data-events="{PREFIX}/jobs/{n.running_job}/events"' in running.text
    assert "<script" not in done.text  # an ended job has nothing to follow
    assert "script-src 'self'" in running.headers["content-security-policy"]
    assert (
        client.get(f"{PREFIX}/static/jobs.js").headers["content-type"].startswith("text/javascript")
    )


def test_the_model_card_reads_on_the_page_and_downloads_as_dain_job_card_writes_it(
    jn: JobsNet,
) -> None:
    n = jn.owners
    client = client_for(n.requester)
    log_in(client)
    where = f"{PREFIX}/jobs/{jn.private_job}"

    shown = client.get(f"{where}/card")
    card = client.get(f"{where}/card.json")
    markdown = client.get(f"{where}/card.md")

    assert shown.status_code == card.status_code == markdown.status_code == 200
    made = json.loads(card.text)
    assert card.headers["content-disposition"] == (
        f'attachment; filename="job-{jn.private_job}-card.json"'
    )
    blobs = n.requester.blobs
    rebuilt = build_card(n.requester.ledger, jn.private_job, blobs.get,
                         made["metrics"]["reports_cid"])  # fmt: skip
    assert card_differences(made, rebuilt) == []  # what --verify checks
    assert made["metrics"]["federated"]["1"]["reports"] == 1
    assert made["requester_metrics_unverified"]["1"]["accuracy"] is not None
    assert markdown.text.startswith('---\nlibrary_name: "dain"')
    assert "# private" in shown.text and "## Evaluation" in shown.text


def test_the_model_downloads_checked_against_its_content_id(jn: JobsNet) -> None:
    n = jn.owners
    client = client_for(n.requester)  # the aggregator holds it; the requester fetches it
    log_in(client)
    job = n.requester.ledger.jobs.job(n.done_job)

    got = client.get(f"{PREFIX}/jobs/{n.done_job}/model")

    assert got.status_code == 200
    verify(job.model_cid, got.content)
    assert got.headers["content-disposition"] == (
        f'attachment; filename="job-{n.done_job}-round-1.safetensors"'
    )


@pytest.mark.parametrize("bad", ["99", "0", "abc", "-1", "1e3", "٣", "9" * 40, "1%20"])
def test_a_job_id_that_names_no_job_is_a_404_with_a_hint(jn: JobsNet, bad: str) -> None:
    client = client_for(jn.owners.requester)
    log_in(client)

    for tail in ("", "/card", "/model", "/events", "/start"):
        answer = client.get(f"{PREFIX}/jobs/{bad}{tail}")
        page = answer.text
        assert answer.status_code == 404, (bad, tail)
        assert 'class="message"' in page and f"listed on {PREFIX}/jobs" in page


def test_pages_without_a_session_go_to_the_login_form(jn: JobsNet) -> None:
    client = client_for(jn.owners.requester)
    job = jn.owners.running_job

    for path in ("", f"/{job}", f"/{job}/events", f"/{job}/card.json", f"/{job}/model",
                 f"/{job}/start", f"/{job}/complete"):  # fmt: skip
        answer = client.get(f"{PREFIX}/jobs{path}")
        assert answer.status_code == 303, path
        assert answer.headers["location"] == f"{PREFIX}/login"


def test_starting_from_the_page_starts_the_job_on_chain(fresh_jobs: Callable[[], JobsNet]) -> None:
    jn = fresh_jobs()
    n = jn.owners
    client = client_for(n.requester)
    log_in(client)
    where = f"{PREFIX}/jobs/{jn.approved_job}"
    before = read(client.get(where).text)

    confirm = client.get(f"{where}/start")
    done = client.post(f"{where}/start", data={"csrf": csrf_of(confirm.text)})

    assert f"{where}/start" in before.links  # the button, for the requester
    assert "Round 1 opens at once" in confirm.text and "no other asset can enroll" in confirm.text
    assert done.status_code == 200
    assert f"Job {jn.approved_job} is now running." in done.text
    assert f'href="{where}">Back to job {jn.approved_job}</a>' in done.text
    assert n.requester.ledger.jobs.job(jn.approved_job).status == JobStatus.RUNNING


def test_completing_from_the_page_pays_out_and_ends_the_job(
    fresh_jobs: Callable[[], JobsNet],
) -> None:
    jn = fresh_jobs()
    n = jn.owners
    client = client_for(n.requester)
    log_in(client)
    where = f"{PREFIX}/jobs/{n.running_job}"
    early = read(client.get(where).text)
    n.net.run_round(n.running_job, 2)

    ready = read(client.get(where).text)
    confirm = client.get(f"{where}/complete")
    done = client.post(f"{where}/complete", data={"csrf": csrf_of(confirm.text)})

    assert f"{where}/complete" not in early.links  # round 2 was not recorded yet
    assert f"{where}/complete" in ready.links
    assert "each data owner&#39;s pay from the pool of 1 DAIN" in confirm.text
    assert "no round can be recorded after it" in confirm.text
    assert f"Job {n.running_job} is now completed." in done.text
    assert n.requester.ledger.jobs.job(n.running_job).status == JobStatus.COMPLETED


def test_an_action_too_early_shows_the_chains_refusal_and_changes_nothing(
    fresh_jobs: Callable[[], JobsNet],
) -> None:
    jn = fresh_jobs()
    n = jn.owners
    client = client_for(n.requester)
    csrf = log_in(client)

    answer = client.post(f"{PREFIX}/jobs/{n.running_job}/complete", data={"csrf": csrf})

    assert answer.status_code == 400
    assert 'class="message"' in answer.text and "Traceback" not in answer.text
    assert n.requester.ledger.jobs.job(n.running_job).status == JobStatus.RUNNING


def test_actions_are_refused_without_session_csrf_same_origin_or_requester(
    fresh_jobs: Callable[[], JobsNet],
) -> None:
    jn = fresh_jobs()
    n = jn.owners
    requester, hospital = client_for(n.requester), client_for(n.hospital)
    csrf = log_in(requester)
    hospital_csrf = log_in(hospital)
    start = f"{PREFIX}/jobs/{jn.approved_job}/start"

    anonymous = client_for(n.requester).post(start, data={"csrf": csrf})
    no_token = requester.post(start, data={})
    wrong = requester.post(start, data={"csrf": "x" * 43})
    foreign = requester.post(start, data={"csrf": csrf}, headers={"origin": "https://evil.example"})
    oversize = requester.post(start, data={"csrf": csrf, "pad": "x" * 20_000})
    hospital_page = read(hospital.get(f"{PREFIX}/jobs/{jn.approved_job}").text)
    forged = hospital.post(start, data={"csrf": hospital_csrf})
    forged_confirm = hospital.get(start)

    for refused in (anonymous, no_token, wrong, foreign, oversize):
        assert refused.status_code == 403
    assert "log in" in anonymous.text and "CSRF" in wrong.text and "another site" in foreign.text
    assert f"{PREFIX}/jobs/{jn.approved_job}/start" not in hospital_page.links  # no button
    assert forged.status_code == forged_confirm.status_code == 403
    assert f"requested by {n.requester.address}, not by this node" in forged.text
    assert n.requester.ledger.jobs.job(jn.approved_job).status == JobStatus.APPROVED


@pytest.fixture
def fresh_jobs() -> Callable[[], JobsNet]:
    """A network of its own, for a test that acts (without the private job: not needed)."""
    return lambda: jobs_net(private=False)
