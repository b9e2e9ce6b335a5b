"""Logging in with the node's keystore password: the password of the node's own key opens
a session; a wrong one, or one that opens some other key, does not; a guesser is paused
after a few misses while the access token still works."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dain.identity import Identity
from dain.node import create_app
from dain.web import PREFIX, dashboard
from dain.web.password import MAX_MISSES, PAUSE_SECONDS, PasswordLogin, Paused
from tests.web.conftest import TOKEN, OwnerNet

PASSWORD = "correct horse battery staple"


def _keystore(identity: Identity, folder: Path, password: str = PASSWORD) -> Path:
    path = folder / f"{identity.address}.json"
    identity.save_keystore(path, password, scrypt_n=2**10)  # a test's key: fast to open
    return path


def _client(n: OwnerNet, keystore: Path | None) -> TestClient:
    node = n.hospital
    app = create_app(node.dispatcher, f"dain node {node.name}")
    app.include_router(dashboard(node, TOKEN, keystore=keystore))
    return TestClient(app, base_url="http://127.0.0.1:8600", follow_redirects=False)


def _login(client: TestClient, secret: str) -> tuple[int, str]:
    answer = client.post(f"{PREFIX}/login", data={"token": secret})
    return answer.status_code, answer.text


def test_the_keystore_password_opens_a_session(shared: OwnerNet, tmp_path: Path) -> None:
    client = _client(shared, _keystore(shared.hospital.ledger.identity, tmp_path))

    form = client.get(f"{PREFIX}/login").text
    status, _ = _login(client, PASSWORD)
    page = client.get(f"{PREFIX}/data")

    assert "Access token or keystore password" in form
    assert status == 303
    assert page.status_code == 200 and "My data" in page.text


def test_a_wrong_password_or_another_keys_password_is_refused(
    shared: OwnerNet, tmp_path: Path
) -> None:
    mine = _client(shared, _keystore(shared.hospital.ledger.identity, tmp_path))
    stranger_key = _keystore(Identity.create(), tmp_path)  # opens, but is not the node's key
    theirs = _client(shared, stranger_key)

    wrong = _login(mine, "correct horse battery stapler")
    other_key = _login(theirs, PASSWORD)

    for status, text in (wrong, other_key):
        assert status == 403
        assert "neither this node&#39;s access token nor its keystore&#39;s password" in text
    assert mine.get(f"{PREFIX}/data").status_code == 303  # still to the login form


def test_a_guesser_is_paused_and_the_token_still_works(shared: OwnerNet, tmp_path: Path) -> None:
    client = _client(shared, _keystore(shared.hospital.ledger.identity, tmp_path))

    misses = [_login(client, f"guess {i}")[0] for i in range(MAX_MISSES)]
    paused = _login(client, PASSWORD)  # even the right one, during the pause
    by_token = _login(client, TOKEN)

    assert misses == [403] * MAX_MISSES
    assert paused[0] == 429 and "password login is paused" in paused[1]
    assert "access token" in paused[1]
    assert by_token[0] == 303


def test_without_a_keystore_only_the_token_opens(shared: OwnerNet) -> None:
    client = _client(shared, None)

    form = client.get(f"{PREFIX}/login").text

    assert "keystore password" not in form
    assert _login(client, PASSWORD)[0] == 403
    assert _login(client, TOKEN)[0] == 303


def test_the_pause_ends_and_a_right_password_resets_the_count(tmp_path: Path) -> None:
    identity = Identity.create()
    clock = [0.0]
    login = PasswordLogin(_keystore(identity, tmp_path), identity.address, lambda: clock[0])

    for _ in range(MAX_MISSES - 1):
        assert not login.matches("wrong")
    assert login.matches(PASSWORD)  # the count starts again
    for _ in range(MAX_MISSES - 1):
        assert not login.matches("wrong")
    assert login.matches(PASSWORD)
    for _ in range(MAX_MISSES):
        assert not login.matches("wrong")
    with pytest.raises(Paused, match="paused"):
        login.matches(PASSWORD)
    clock[0] += PAUSE_SECONDS + 1
    assert login.matches(PASSWORD)
    assert not login.matches("x" * 5000)  # too long to be typed: not even tried
