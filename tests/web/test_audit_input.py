"""The Audit page given what names nothing: a bad asset id, job number or address, in its
form or its address, gets the page saying what was wrong and what to type (400 for what is
malformed, 404 for what does not exist), never a traceback; without a session, every part
of it sends the reader to the login form."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from dain.data import format_asset_id
from dain.web import PREFIX
from tests.web.conftest import OwnerNet, client_for, log_in
from tests.web.html import read

CHECKSUM_BROKEN = "0x52908400098527886e0F7030069857D2E4169EE7"  # one letter's case changed
HEX_FORM = "0x followed by 64 hex digits"


@pytest.fixture(scope="module")
def client(shared: OwnerNet) -> TestClient:
    client = client_for(shared.hospital)
    log_in(client)
    return client


def _refused(answer: object, status: int, *words: str) -> None:
    assert answer.status_code == status, answer.text  # type: ignore[attr-defined]
    text = answer.text  # type: ignore[attr-defined]
    assert 'role="alert"' in text and "Traceback" not in text
    for word in words:
        assert word in text, text


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("asset/0x12zz", 400, ["&#39;z&#39; (digit 3) is not a hex digit", HEX_FORM]),
        ("asset/0x" + "ab" * 31, 400, ["62 of 64 hex digits", HEX_FORM]),
        ("asset/0x" + "ab" * 33, 400, ["66 hex digits, not 64", HEX_FORM]),
        ("asset/0x" + "12" * 32, 404, ["There is no data asset 0x1212", "Audit page"]),
        ("job/abc", 400, ["&#39;abc&#39; is not a job number", "e.g. 1"]),
        ("job/-1", 400, ["not a job number"]),
        ("job/999", 404, ["There is no job 999 on this network: jobs run from 1 to 2."]),
        ("job/0", 404, ["jobs run from 1 to 2"]),
        ("member/hello", 400, ["is not a member&#39;s address (not hex)", "40 hex digits"]),
        ("member/0x1234", 400, ["(4 hex digits)", "40 hex digits"]),
        (f"member/{CHECKSUM_BROKEN}", 400, ["mistyped letter", "lower case"]),
        ("job/" + "9" * 5000, 400, ["5000 characters long", "A job is a number"]),
        ("asset/" + "f" * 5000 + ".csv", 400, ["5000 characters long", HEX_FORM]),
        ("ledger/1", 404, ["There is no audit of &#39;ledger&#39;", "a member"]),
    ],
    ids=["not-hex", "short", "long", "unknown-asset", "job-word", "job-negative",
         "unknown-job", "job-zero", "word-address", "short-address", "checksum",
         "oversized-job", "oversized-export", "unknown-kind"],
)  # fmt: skip
def test_a_bad_trail_address_says_what_to_type(
    client: TestClient, path: str, status: int, words: list[str]
) -> None:
    _refused(client.get(f"{PREFIX}/audit/{path}"), status, *words)


def test_an_unknown_job_in_a_download_is_refused_too(client: TestClient) -> None:
    for suffix in (".json", ".csv"):
        answer = client.get(f"{PREFIX}/audit/job/7{suffix}")
        _refused(answer, 404, "jobs run from 1 to 2")
        assert "content-disposition" not in answer.headers


def test_the_lookup_forms_are_labelled_get_forms(client: TestClient, shared: OwnerNet) -> None:
    page = read(client.get(f"{PREFIX}/audit").text)

    lookups = [f for f in page.forms if f.action == f"{PREFIX}/audit"]
    assert [f.method for f in lookups] == ["get"] * 3
    fields = [i for f in lookups for i in f.inputs]
    assert [i["name"] for i in fields] == ["asset", "job", "member"]
    assert all(i["id"] in page.labels for i in fields) and all(f.buttons for f in lookups)
    assert page.scripts == 0
    assert f"{PREFIX}/audit/asset/{format_asset_id(shared.used)}" in page.links
    assert f"{PREFIX}/audit/asset/{format_asset_id(shared.idle)}" in page.links
    assert f"{PREFIX}/audit/job/{shared.done_job}" in page.links  # its data took part
    assert f"{PREFIX}/audit/member/{shared.hospital.address}" in page.links


def test_a_sent_form_leads_to_the_trails_own_address(client: TestClient, shared: OwnerNet) -> None:
    hex_id = format_asset_id(shared.used)
    cases = {
        f"asset={hex_id.upper().replace('0X', '0x')}": f"asset/{hex_id}",
        "job=%2001%20": "job/1",
        f"member={shared.hospital.address.lower()}": f"member/{shared.hospital.address}",
    }
    for query, where in cases.items():
        answer = client.get(f"{PREFIX}/audit?{query}")
        assert answer.status_code == 303
        assert answer.headers["location"] == f"{PREFIX}/audit/{where}"
    # an address typed another way is sent to the trail's own one, the download too
    answer = client.get(f"{PREFIX}/audit/member/{shared.hospital.address.lower()}.csv")
    assert answer.headers["location"] == f"{PREFIX}/audit/member/{shared.hospital.address}.csv"


def test_a_bad_form_shows_the_form_again_with_the_problem(client: TestClient) -> None:
    answer = client.get(f"{PREFIX}/audit", params={"asset": "0xdeadbeef…"})

    _refused(answer, 400, "shortened asset id", HEX_FORM)
    assert 'value="0xdeadbeef…"' in answer.text  # kept, to be corrected
    _refused(client.get(f"{PREFIX}/audit", params={"job": "x" * 101}), 400, "101 characters")
    sent = client.get(f"{PREFIX}/audit", params={"job": "12"})  # well-formed: to its address,
    _refused(client.get(sent.headers["location"]), 404, "no job 12")  # which says it is none


def test_without_a_session_every_part_sends_to_login(shared: OwnerNet) -> None:
    stranger = client_for(shared.hospital)  # no log in
    hex_id = format_asset_id(shared.used)
    for path in ("", "?job=1", f"/asset/{hex_id}", f"/asset/{hex_id}.csv", "/job/1.json",
                 f"/member/{shared.hospital.address}", "/job/nonsense"):  # fmt: skip
        answer = stranger.get(f"{PREFIX}/audit{path}")
        assert answer.status_code == 303, path
        assert answer.headers["location"] == f"{PREFIX}/login"
