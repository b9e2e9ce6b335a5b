"""The "Governance" page against real nodes on the embedded chain: it lists each proposal
with its decoded terms, tally and quorum as `dain gov status` reads them; voting,
delegating, queuing and executing through it change the chain (checked through the
ledger, not the page), and it refuses what `dain gov` refuses, plainly."""

from __future__ import annotations

from collections.abc import Callable
from html import unescape

import pytest
from fastapi.testclient import TestClient

from dain.ledger import TOKEN_UNIT, JobStatus, ProposalState, proposal_status, votes_text
from dain.web import PREFIX
from tests.web.conftest import client_for, log_in
from tests.web.governance_net import GovNet, gov_net
from tests.web.html import read

GOV = f"{PREFIX}/governance"


@pytest.fixture(scope="module")
def shared() -> GovNet:
    """One network for tests that only read."""
    return gov_net()


@pytest.fixture
def fresh() -> Callable[[], GovNet]:
    """A network of its own, for a test that acts."""
    return gov_net


def _vote(client: TestClient, csrf: str, proposal_id: int | str, choice: str = "for") -> str:
    answer = client.post(f"{GOV}/{proposal_id}/vote", data={"csrf": csrf, "choice": choice})
    return f"{answer.status_code} {answer.text}"


def test_the_page_lists_the_open_vote_with_the_jobs_terms_and_quorum(shared: GovNet) -> None:
    client = client_for(shared.hospital)
    log_in(client)
    ledger = shared.hospital.ledger
    key = f"proposal-{shared.open.proposal_id}"

    page = read(client.get(GOV).text)

    does = dict(page.tables[(key, "does")])
    job = ledger.jobs.job(shared.job_id)
    assert does["job"] == str(shared.job_id)
    assert does["purpose"] == "diagnosis"
    assert does["rounds"] == "3, 600 s each"
    assert does["pool"] == "3 DAIN"
    assert does["privacy"] == "epsilon at most 2 over the job"
    assert does["secure aggregation"] == "required"
    assert does["requester"] == job.requester == shared.requester.address
    vote = dict(page.tables[(key, "vote")])
    cli = proposal_status(ledger, shared.open)  # what `dain gov status --json` prints
    quorum = ledger.gov.quorum(ledger.gov.snapshot(shared.open))
    assert vote["state"] == cli["state"] == "active"
    assert vote["snapshot"].startswith(f"block {cli['snapshot_block']}, ")
    assert vote["snapshot"].endswith(" UTC")
    assert vote["voting ends"].startswith(f"block {cli['voting_ends_block']}, in ")
    assert vote["for"] == vote["against"] == vote["abstain"] == votes_text(0)
    assert vote["quorum (for + abstain)"] == f"0.00 DAIN of {votes_text(quorum)} (0%), not reached"
    assert vote["outcome"] == cli["outcome"]
    assert vote["your weight"] == "10,000.00 DAIN (at the snapshot)"
    assert vote["your vote"] == "not cast"
    vote_forms = [f for f in page.forms if f.action == f"{GOV}/{shared.open.proposal_id}/vote"]
    assert len(vote_forms) == 1 and vote_forms[0].buttons == 3


def test_a_parameter_change_names_the_parameter_with_its_new_and_current_value(
    shared: GovNet,
) -> None:
    client = client_for(shared.hospital)
    log_in(client)

    page = read(client.get(GOV).text)

    does = dict(page.tables[(f"proposal-{shared.floor.proposal_id}", "does")])
    current = shared.hospital.ledger.jobs.floor_share_bps()
    assert does["parameter"].startswith("floor share")
    assert does["new value"] == "2500 basis points (25.00%)"
    assert does["current value"] == f"{current} basis points ({current / 100:.2f}%)"


def test_open_proposals_come_first_then_past_ones_with_their_outcome(shared: GovNet) -> None:
    client = client_for(shared.hospital)
    log_in(client)

    html = client.get(GOV).text
    past = read(html).tables[("", "past")][1:]

    assert html.index("Open proposals (2)") < html.index("Past proposals (3)")
    # newest first: the floor share vote was proposed after the job's approval
    assert (
        html.index(f'id="proposal-{shared.floor.proposal_id}"')
        < html.index(f'id="proposal-{shared.open.proposal_id}"')
        < html.index("Past proposals")
    )
    # each member was admitted by a vote: three admissions, executed
    assert [row[0].startswith("Admit 0x") for row in past] == [True] * 3
    assert {row[1] for row in past} == {"executed"}


def test_the_delegation_form_is_labelled_and_shows_the_current_delegate(shared: GovNet) -> None:
    client = client_for(shared.bystander)
    log_in(client)

    page = read(client.get(GOV).text)

    mine = dict(page.tables[("delegation", "delegation")])
    assert mine["account"] == shared.bystander.address
    assert mine["tokens held"] == "500 DAIN"
    assert mine["your tokens vote through"].startswith("nobody yet")
    assert mine["voting power now"] == votes_text(0)
    texts = [i for f in page.forms for i in f.inputs if i.get("type") == "text"]
    assert texts and all(i["id"] in page.labels for i in texts)
    assert page.scripts == 0


def test_a_vote_on_the_page_counts_on_chain_and_a_second_is_refused_plainly(
    fresh: Callable[[], GovNet],
) -> None:
    n = fresh()
    client = client_for(n.hospital)
    csrf = log_in(client)
    gov = n.hospital.ledger.gov
    weight = n.hospital.ledger.token.votes(n.hospital.address, gov.snapshot(n.open))

    first = _vote(client, csrf, n.open.proposal_id, "against")
    second = _vote(client, csrf, n.open.proposal_id, "for")

    tally = gov.tally(n.open)
    assert (tally.against, tally.for_, tally.abstain) == (weight, 0, 0)
    assert weight == 10_000 * TOKEN_UNIT
    assert first.startswith("200 ")
    assert "You voted against with 10,000.00 DAIN" in first
    assert read(first.split(" ", 1)[1]).tables  # the page after it shows the chain's tally
    assert "against, with 10,000.00 DAIN" in first
    assert second.startswith("400 ")
    assert "has already voted on this proposal" in second
    assert "Traceback" not in second
    assert gov.tally(n.open) == tally  # the second vote changed nothing


def test_a_member_without_voting_power_is_told_to_delegate_and_when_it_counts(
    fresh: Callable[[], GovNet],
) -> None:
    n = fresh()
    client = client_for(n.bystander)
    csrf = log_in(client)
    gov = n.bystander.ledger.gov

    refused = _vote(client, csrf, n.open.proposal_id)

    assert refused.startswith("400 ")
    for words in ("would count 0", "500.00 DAIN", "not delegated", "dain gov delegate",
                  "later proposals", "none was sent", "delegates your tokens"):  # fmt: skip
        assert words in refused, words
    assert "--anyway" not in refused  # the page has no such option
    assert not gov.has_voted(n.open, n.bystander.address)


def test_delegating_on_the_page_changes_the_delegate_on_chain(
    fresh: Callable[[], GovNet],
) -> None:
    n = fresh()
    client = client_for(n.bystander)
    csrf = log_in(client)
    token = n.bystander.ledger.token
    to = n.hospital.address

    bad = client.post(f"{GOV}/delegate", data={"csrf": csrf, "to": "0x123"})
    other = client.post(f"{GOV}/delegate", data={"csrf": csrf, "to": to.lower()})
    after_other = token.delegate_of(n.bystander.address)
    itself = client.post(f"{GOV}/delegate", data={"csrf": csrf, "to": ""})

    assert bad.status_code == 400 and "is not an address to delegate to" in bad.text
    assert other.status_code == 200
    assert after_other == to
    assert f"{to} now votes with 10,500.00 DAIN" in other.text
    assert "snapshot is block" in other.text and "made from now on" in other.text
    assert token.delegate_of(n.bystander.address) == n.bystander.address
    assert itself.status_code == 200 and "You now vote with 500.00 DAIN" in itself.text
    assert (
        dict(read(itself.text).tables[("delegation", "delegation")])["your tokens vote through"]
        == "yourself"
    )


def test_a_passed_proposal_is_queued_then_executed_from_the_page(
    fresh: Callable[[], GovNet],
) -> None:
    n = fresh()
    client = client_for(n.hospital)
    csrf = log_in(client)
    root, gov = n.net.root, n.hospital.ledger.gov
    _vote(client, csrf, n.open.proposal_id)
    root.backend.mine(gov.deadline(n.open) - root.block_number() + 1)
    where = f"{GOV}/{n.open.proposal_id}"

    succeeded = client.get(where).text
    queued = client.post(f"{where}/queue", data={"csrf": csrf})
    state_queued = gov.state(n.open)
    early = client.post(f"{where}/execute", data={"csrf": csrf})
    root.backend.advance_time(gov.timelock_delay() + 1)
    executed = client.post(f"{where}/execute", data={"csrf": csrf})

    assert "Queuing sends it to the timelock" in succeeded
    assert queued.status_code == 200 and "Queued in the timelock" in queued.text
    assert state_queued == ProposalState.QUEUED
    assert early.status_code == 400 and "timelock delay has not passed" in early.text
    assert executed.status_code == 200 and "now in force" in executed.text
    assert gov.state(n.open) == ProposalState.EXECUTED
    assert n.hospital.ledger.jobs.job(n.job_id).status == JobStatus.APPROVED


def test_a_vote_on_a_proposal_not_yet_open_is_refused(fresh: Callable[[], GovNet]) -> None:
    n = fresh()
    client = client_for(n.hospital)
    csrf = log_in(client)
    pending = n.requester.ledger.gov.propose_admission(n.bystander.address, "Admit again")

    page = read(client.get(f"{GOV}/{pending.proposal_id}").text)
    refused = _vote(client, csrf, pending.proposal_id)

    does = dict(page.tables[(f"proposal-{pending.proposal_id}", "does")])
    assert does["account"] == n.bystander.address and does["member now"] == "yes"
    assert dict(page.tables[(f"proposal-{pending.proposal_id}", "vote")])["state"] == "pending"
    assert not [f for f in page.forms if f.action.endswith("/vote")]
    assert refused.startswith("400 ") and "is pending: its vote has not opened yet" in refused
    assert not n.hospital.ledger.gov.has_voted(pending, n.hospital.address)


def test_actions_are_refused_without_session_csrf_or_same_origin(
    fresh: Callable[[], GovNet],
) -> None:
    n = fresh()
    client = client_for(n.hospital)
    where = f"{GOV}/{n.open.proposal_id}/vote"
    anonymous = client.post(where, data={"csrf": "x", "choice": "for"})
    page_anonymous = client.get(GOV)
    csrf = log_in(client)

    no_csrf = client.post(where, data={"choice": "for"})
    wrong = client.post(where, data={"csrf": csrf[:-2] + "xx", "choice": "for"})
    elsewhere = client.post(where, data={"csrf": csrf, "choice": "for"},
                            headers={"origin": "http://evil.example"})  # fmt: skip
    cross = client.post(f"{GOV}/delegate", data={"csrf": csrf, "to": ""},
                        headers={"sec-fetch-site": "cross-site"})  # fmt: skip
    huge = client.post(f"{GOV}/delegate", data={"csrf": csrf, "to": "0" * 20_000})

    assert page_anonymous.status_code == 303
    for answer in (anonymous, no_csrf, wrong, elsewhere, cross, huge):
        assert answer.status_code == 403, answer.text
    assert not n.hospital.ledger.gov.has_voted(n.open, n.hospital.address)
    assert n.hospital.ledger.token.delegate_of(n.hospital.address) == n.hospital.address


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("abc", 400, "is not a proposal id"),
        ("-1", 400, "is not a proposal id"),
        ("1_0", 400, "is not a proposal id"),
        ("٣", 400, "is not a proposal id"),
        ("9" * 5000, 400, "is not a proposal id"),
        (str(2**256), 400, "too large to be a proposal id"),
        ("12345", 404, "No proposal 12345 on this chain"),
    ],
)
def test_bad_and_unknown_ids_get_an_error_page_with_a_hint(
    shared: GovNet, path: str, status: int, words: str
) -> None:
    client = client_for(shared.hospital)
    log_in(client)

    answer = client.get(f"{GOV}/{path}")

    assert answer.status_code == status
    assert words in answer.text and 'class="hint"' in answer.text
    assert len(answer.text) < 10_000  # a bad id is quoted cut short, not echoed whole


def test_an_unknown_action_or_choice_is_an_error_not_a_crash(shared: GovNet) -> None:
    client = client_for(shared.hospital)
    csrf = log_in(client)
    where = f"{GOV}/{shared.open.proposal_id}"

    unknown = client.post(f"{where}/cancel", data={"csrf": csrf})
    nonsense = client.post(f"{where}/vote", data={"csrf": csrf, "choice": "maybe"})

    assert unknown.status_code == 404 and "No action 'cancel'" in unescape(unknown.text)
    assert nonsense.status_code == 400 and "'maybe' is not a vote" in unescape(nonsense.text)
    assert not shared.hospital.ledger.gov.has_voted(shared.open, shared.hospital.address)
