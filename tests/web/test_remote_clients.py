"""The dashboard acts with the node's key, so by default it answers only clients on the
node's own machine, while the peer API beside it answers everyone; `dashboard_remote = true`
in node.toml opens it, and nothing but true or false is taken for that setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dain.errors import ConfigError
from dain.node import NodeConfig, NodeHome, create_app
from dain.web import PREFIX, dashboard
from dain.web.ui import this_machine_only
from tests.web.conftest import TOKEN, OwnerNet


def _app(n: OwnerNet, local_only: bool):  # type: ignore[no-untyped-def]
    node = n.hospital
    app = create_app(node.dispatcher, f"dain node {node.name}")
    if local_only:
        this_machine_only(app)
    app.include_router(dashboard(node, TOKEN))
    return app


def _from(app, host: str) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(app, base_url="http://127.0.0.1:8600", follow_redirects=False,
                      client=(host, 50123))  # fmt: skip


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_this_machine_opens_the_dashboard(shared: OwnerNet, host: str) -> None:
    answer = _from(_app(shared, local_only=True), host).get(f"{PREFIX}/login")

    assert answer.status_code == 200


@pytest.mark.parametrize("host", ["10.1.2.3", "192.168.0.7", "2001:db8::1", "::ffff:10.0.0.1"])
def test_another_machine_is_refused_the_dashboard_but_not_the_peer_api(
    shared: OwnerNet, host: str
) -> None:
    client = _from(_app(shared, local_only=True), host)

    pages = [client.get(f"{PREFIX}{p}") for p in ("", "/", "/login", "/static/dain.css")]
    login = client.post(f"{PREFIX}/login", data={"token": TOKEN})
    health = client.get("/health")

    for answer in (*pages, login):
        assert answer.status_code == 403
        assert "answers only on the machine it runs on" in answer.text
        assert "dashboard_remote = true" in answer.text
    assert "set-cookie" not in login.headers  # not even a session for the right token
    assert health.status_code == 200


def test_dashboard_remote_opens_it_to_other_machines(shared: OwnerNet) -> None:
    answer = _from(_app(shared, local_only=False), "10.1.2.3").get(f"{PREFIX}/login")

    assert answer.status_code == 200


def test_the_setting_takes_only_true_or_false(tmp_path: Path) -> None:
    home = NodeHome(tmp_path)
    home.config_file.write_text(NodeConfig(name="n").to_toml())
    assert home.config().dashboard_remote is False  # the default a new node gets
    home.config_file.write_text(NodeConfig(name="n", dashboard_remote=True).to_toml())
    assert home.config().dashboard_remote is True

    home.config_file.write_text(NodeConfig(name="n").to_toml().replace(
        "dashboard_remote = false", 'dashboard_remote = "yes"'))  # fmt: skip
    with pytest.raises(ConfigError, match="dashboard_remote must be true or false"):
        home.config()
