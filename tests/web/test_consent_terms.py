"""Changing consent terms and granting consent again on the "My data" page, against a node
on the embedded chain: the form shows the current terms, a review page says what changes and
what it means for each enrolled job before anything is sent, and confirming sets the terms
on chain and in the node's own copy, so the next round follows them. Mistakes come back as
the form with what was typed and what to fix; nothing reaches the chain."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dain.data import format_asset_id
from dain.ledger import parse_dain
from dain.web import PREFIX
from tests.web.conftest import OwnerNet, client_for, csrf_of, log_in
from tests.web.html import read


def _terms_url(n: OwnerNet, asset: int) -> str:
    return f"{PREFIX}/data/{format_asset_id(asset)}/terms"


def _fields(html: str) -> dict[str, str]:
    """The values the form's text fields hold (textareas aside: the parser reads attributes)."""
    (form,) = [f for f in read(html).forms if f.action.endswith("/terms")]
    return {i["name"]: i.get("value", "") for i in form.inputs if i.get("type") == "text"}


def test_the_form_shows_the_current_terms_and_is_labelled(shared: OwnerNet) -> None:
    client = client_for(shared.hospital)
    log_in(client)

    answer = client.get(_terms_url(shared, shared.idle))
    page = read(answer.text)

    assert answer.status_code == 200
    fields = _fields(answer.text)
    assert fields["purposes"] == "diagnosis, research"
    assert fields["price"] == "0.1" and fields["max_epsilon"] == "4"
    assert fields["expiry"] == "never" and fields["min_participants"] == "0"
    shown = [i for f in page.forms for i in f.inputs if i.get("type") != "hidden"]
    assert shown and all(i.get("id") in page.labels for i in shown)
    assert 'name="secure_aggregation" type="checkbox" checked' in answer.text


def test_narrowed_terms_are_reviewed_then_set_and_the_next_round_leaves_the_asset_out(
    fresh: Callable[[], OwnerNet],
) -> None:
    n = fresh()
    client = client_for(n.hospital)
    csrf = log_in(client)
    before = n.hospital.ledger.assets.policy(n.used)
    new_terms = {"csrf": csrf, "purposes": "research", "price": "0.5", "expiry": "never",
                 "min_participants": "0", "statement": "Research only, from now on."}  # fmt: skip

    review = client.post(_terms_url(n, n.used), data=new_terms)
    unchanged = n.hospital.ledger.assets.policy(n.used)
    done = client.post(_terms_url(n, n.used), data=new_terms | {"step": "confirm"})
    n.net.run_round(n.running_job, 2)

    assert review.status_code == 200 and unchanged.version == before.version  # nothing sent yet
    changes = read(review.text).tables[("", "changes")][1:]
    assert ["purposes", "diagnosis", "research"] in changes
    assert ["price per round", "0 DAIN", "0.5 DAIN"] in changes
    assert ["your statement", "-", "Research only, from now on."] in changes
    assert f"Job {n.running_job} (diagnosis, running): the new terms do not allow it" in review.text
    assert done.status_code == 200 and "policy version" in done.text
    after = n.hospital.ledger.assets.policy(n.used)
    assert after.version == before.version + 1 and not after.revoked
    assert after.policy.purposes == ("research",)
    assert after.policy.price_per_round == parse_dain("0.5")
    assert n.hospital.assets[n.used].policy.statement == "Research only, from now on."
    round_two = {u.asset_id for u in n.hospital.ledger.jobs.data_used(job_id=n.running_job)
                 if u.round == 2}  # fmt: skip
    assert round_two and n.used not in round_two  # the clinic's asset trained on without it


def test_consent_is_granted_again_after_a_revocation(fresh: Callable[[], OwnerNet]) -> None:
    n = fresh()
    client = client_for(n.hospital)
    csrf = log_in(client)
    n.hospital.revoke(n.idle)

    form = client.get(_terms_url(n, n.idle))
    fields = _fields(form.text)
    review = client.post(_terms_url(n, n.idle), data=fields | {"csrf": csrf})
    done = client.post(_terms_url(n, n.idle), data=fields | {"csrf": csrf, "step": "confirm"})

    assert "Grant consent again" in form.text
    assert "Grant consent again?" in review.text
    assert done.status_code == 200
    policy = n.hospital.ledger.assets.policy(n.idle)
    assert not policy.revoked and policy.policy.purposes == ("diagnosis", "research")
    assert policy.policy.max_epsilon == 4.0  # what was shown is what was granted
    assert policy.policy.secure_aggregation is False  # the checkbox was not sent: unticked


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [("purposes", " , ", "Purposes: at least one is needed"),
     ("purposes", "Diagnosis!", "is not a purpose tag"),
     ("price", "lots", "is not an amount of DAIN"),
     ("price", "1e30", "more than any job holds"),
     ("expiry", "2001-01-01", "already past"),
     ("expiry", "soon", "is not a date"),
     ("min_participants", "-1", "Minimum participants"),
     ("max_epsilon", "-4", "Epsilon cap"),
     ("max_epsilon", "nan", "Epsilon cap"),
     ("requesters", "bob", "must name DIDs")],
)  # fmt: skip
def test_a_mistake_shows_the_form_again_with_what_was_typed(
    shared: OwnerNet, field: str, value: str, says: str
) -> None:
    client = client_for(shared.hospital)
    csrf = log_in(client)
    before = shared.hospital.ledger.assets.policy(shared.idle)
    typed = {"csrf": csrf, "purposes": "diagnosis", "price": "0.7", "expiry": "never",
             "min_participants": "2", "statement": "kept"} | {field: value}  # fmt: skip

    for step in ("review", "confirm"):
        answer = client.post(_terms_url(shared, shared.idle), data=typed | {"step": step})

        assert answer.status_code == 400
        assert says in answer.text and 'class="hint"' in answer.text
        assert "Traceback" not in answer.text
        shown = _fields(answer.text)  # nothing typed is lost, the mistake included
        text_fields = set(typed) - {"csrf", "statement", "requesters"}
        assert {k: shown[k] for k in text_fields} == {k: typed[k] for k in text_fields}
        assert ">kept</textarea>" in answer.text
    assert shared.hospital.ledger.assets.policy(shared.idle).version == before.version


def test_back_from_the_review_keeps_the_new_terms(shared: OwnerNet) -> None:
    client = client_for(shared.hospital)
    csrf = log_in(client)
    typed = {"csrf": csrf, "purposes": "research", "price": "2", "expiry": "2099-01-01",
             "min_participants": "3", "step": "edit"}  # fmt: skip

    answer = client.post(_terms_url(shared, shared.idle), data=typed)

    fields = _fields(answer.text)
    assert answer.status_code == 200
    assert (fields["purposes"], fields["price"], fields["expiry"]) == (
        "research",
        "2",
        "2099-01-01",
    )


def test_terms_cannot_be_set_without_the_session_its_csrf_or_for_anothers_asset(
    shared: OwnerNet,
) -> None:
    stranger = client_for(shared.hospital)
    owner = client_for(shared.hospital)
    csrf = log_in(owner)
    clinic = client_for(shared.net.nodes["clinic"])
    clinic_csrf = log_in(clinic)
    terms = {"purposes": "research", "step": "confirm"}
    before = shared.hospital.ledger.assets.policy(shared.idle).version

    no_session = stranger.post(_terms_url(shared, shared.idle), data=terms | {"csrf": csrf})
    no_csrf = owner.post(_terms_url(shared, shared.idle), data=terms)
    not_theirs = clinic.post(_terms_url(shared, shared.idle), data=terms | {"csrf": clinic_csrf})
    bad_id = owner.get(f"{PREFIX}/data/0xnothex/terms")

    assert no_session.status_code == 403 and no_csrf.status_code == 403
    assert not_theirs.status_code == 404 and "This node holds no asset" in not_theirs.text
    assert bad_id.status_code == 404
    assert shared.hospital.ledger.assets.policy(shared.idle).version == before
    assert csrf_of(owner.get(_terms_url(shared, shared.idle)).text) == csrf
