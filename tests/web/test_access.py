"""Who may act through the dashboard: only a session opened with the node's access token,
and only with that session's CSRF token in the form. Anything else gets a 403 with a plain
message and changes nothing on chain."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dain.data import format_asset_id
from dain.web import PREFIX, TOKEN_FILE, issue_token, read_token
from dain.web.access import SESSION_SECONDS, Access
from tests.web.conftest import TOKEN, OwnerNet, client_for, log_in
from tests.web.html import read


def _revoke_url(n: OwnerNet) -> str:
    return f"{PREFIX}/data/{format_asset_id(n.idle)}/revoke"


def test_the_token_file_is_the_owners_alone_and_new_at_each_start(tmp_path: Path) -> None:
    old = os.umask(0)  # even a permissive umask leaves it private
    try:
        first = issue_token(tmp_path)
        second = issue_token(tmp_path)
    finally:
        os.umask(old)

    mode = stat.S_IMODE((tmp_path / TOKEN_FILE).stat().st_mode)
    assert mode == 0o600
    assert first != second and len(second) >= 32
    assert read_token(tmp_path) == second
    assert sorted(p.name for p in tmp_path.iterdir()) == [TOKEN_FILE]  # no stray copy


def test_a_session_ends_after_a_working_day_and_its_csrf_is_its_own() -> None:
    now = [0.0]
    access = Access(TOKEN, now=lambda: now[0])
    first, second = access.open_session(TOKEN), access.open_session(TOKEN)
    assert first and second and access.open_session(TOKEN[:-1] + "x") is None

    assert access.csrf_matches(first, access.csrf_token(first))
    assert not access.csrf_matches(first, access.csrf_token(second))
    assert not access.csrf_matches(first, "")
    assert not access.csrf_matches(first, "é" * 64)  # not ASCII: refused, not a 500
    assert access.open_session("é" * 43) is None
    now[0] = SESSION_SECONDS - 1
    assert access.session_valid(first)
    now[0] = SESSION_SECONDS
    assert not access.session_valid(first) and not access.session_valid(second)


def test_pages_send_a_reader_without_a_session_to_the_login_form(shared: OwnerNet) -> None:
    client = client_for(shared.hospital)

    answer = client.get(f"{PREFIX}/data")
    wrong = client.post(f"{PREFIX}/login", data={"token": "not-the-token-at-all"})

    assert answer.status_code == 303 and answer.headers["location"] == f"{PREFIX}/login"
    assert wrong.status_code == 403
    assert "not this node&#39;s access token" in wrong.text and "dain node start" in wrong.text
    assert "dain_session" not in wrong.headers.get("set-cookie", "")


def test_the_session_cookie_is_httponly_and_strict(shared: OwnerNet) -> None:
    client = client_for(shared.hospital)

    answer = client.post(f"{PREFIX}/login", data={"token": TOKEN})

    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and f"path={PREFIX}" in cookie


@pytest.mark.parametrize(
    "how",
    ["no session", "no csrf", "wrong csrf", "other session's csrf", "other site",
     "opaque origin", "json"],
)  # fmt: skip
def test_an_action_without_token_or_csrf_is_refused_and_changes_nothing(
    shared: OwnerNet, how: str
) -> None:
    client = client_for(shared.hospital)
    csrf = "" if how == "no session" else log_in(client)
    form: dict[str, str] = {"csrf": csrf}
    headers: dict[str, str] = {}
    if how == "no csrf":
        form = {}
    elif how == "wrong csrf":
        form = {"csrf": "0" * 64}
    elif how == "other session's csrf":
        form = {"csrf": log_in(client_for(shared.hospital))}
    elif how == "other site":
        headers = {"origin": "http://evil.example", "sec-fetch-site": "cross-site"}
    elif how == "opaque origin":  # a sandboxed frame or a data: page of any site
        headers = {"origin": "null"}

    sent = {"json": form} if how == "json" else {"data": form, "headers": headers}
    revoke = client.post(_revoke_url(shared), **sent)  # type: ignore[arg-type]
    claim = client.post(f"{PREFIX}/data/claim", **sent)  # type: ignore[arg-type]

    for answer in (revoke, claim):
        assert answer.status_code == 403
        assert answer.headers["content-type"].startswith("text/plain")
        assert answer.text.startswith("Refused:")
    assert not shared.hospital.ledger.assets.policy(shared.idle).revoked
    assert shared.hospital.ledger.jobs.rewards_paid(shared.done_job) == []


def test_logging_out_ends_the_session(shared: OwnerNet) -> None:
    client = client_for(shared.hospital)
    csrf = log_in(client)
    session = client.cookies.get("dain_session")

    client.post(f"{PREFIX}/logout", data={"csrf": csrf})
    client.cookies.set("dain_session", session or "", path=PREFIX)  # a copy kept of it
    after = client.post(_revoke_url(shared), data={"csrf": csrf})

    assert after.status_code == 403
    assert not shared.hospital.ledger.assets.policy(shared.idle).revoked


def test_pages_work_without_javascript(shared: OwnerNet) -> None:
    client = client_for(shared.hospital)
    log_in(client)
    pages = {
        "login": client_for(shared.hospital).get(f"{PREFIX}/login"),
        "data": client.get(f"{PREFIX}/data"),
        "revoke": client.get(_revoke_url(shared)),
    }

    for name, answer in pages.items():
        page = read(answer.text)
        assert answer.status_code == 200, name
        assert page.scripts == 0, name
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "unsafe" not in policy  # no inline script
        for form in page.forms:
            assert form.method == "post" and form.action.startswith(PREFIX) and form.buttons
            shown = [i for i in form.inputs if i.get("type") != "hidden"]
            assert all(i.get("id") in page.labels for i in shown), (name, form)
            if name != "login":
                assert any(i.get("name") == "csrf" for i in form.inputs), (name, form)
    css = client.get(f"{PREFIX}/static/dain.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    for name in ("access.py", "..%2Faccess.py", "..%2F__init__.py", "dain.css.map", ""):
        assert client.get(f"{PREFIX}/static/{name}").status_code == 404, name
