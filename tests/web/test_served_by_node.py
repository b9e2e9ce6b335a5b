"""The dashboard served by a real node process on anvil through `serve`'s extension seam,
as `dain node start` serves it: on the node's own address and certificate, under /ui,
with a new access token kept in the home for its owner alone."""

from __future__ import annotations

import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from dain.devnet.home import admit_founder
from dain.identity import Identity
from dain.ledger import TOKEN_UNIT, Ledger, NetworkParams, RpcChain, deploy, free_port, stop_pid
from dain.ledger.anvil import AnvilProcess
from dain.node import NodeConfig, NodeHome, home_client
from dain.web import PREFIX, TOKEN_FILE, read_token

pytestmark = pytest.mark.slow
PASSWORD = "node operator"
SERVE = """
import sys
from pathlib import Path
from dain.node import NodeHome, serve
from dain.web import with_dashboard

home = NodeHome(Path(sys.argv[1]))
shown = lambda url, token, path: print("dashboard", url, path, flush=True)
serve(home, sys.argv[2], extend=with_dashboard(home, shown))
"""


def _node_home(anvil: AnvilProcess, root: Path) -> NodeHome:
    chain = RpcChain(anvil.url)
    treasury = Identity.create()
    chain.fund(treasury.address, 10**20)
    params = NetworkParams(voting_delay=1, voting_period=5, quorum_percent=4,
                           token_supply=100_000 * TOKEN_UNIT)  # fmt: skip
    deployment = deploy(chain.web3, treasury, params, gas_limit=chain.gas_limit)
    deployment.save(root / "deployment.json")
    home = NodeHome(root / "clinic")
    config = NodeConfig(name="clinic", port=free_port(), rpc=anvil.url,
                        deployment=str(root / "deployment.json"))  # fmt: skip
    identity = home.init(config, PASSWORD, scrypt_n=2**10)
    admit_founder(Ledger(chain, deployment, treasury), identity.address, tokens=100)
    return home


def test_a_started_node_serves_the_dashboard_with_a_private_token(
    anvil: AnvilProcess, tmp_path: Path
) -> None:
    home = _node_home(anvil, tmp_path)
    console = tmp_path / "console.txt"
    with console.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(home.root), PASSWORD], stdout=out, stderr=out,
            start_new_session=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while "dashboard" not in console.read_text():
            assert process.poll() is None, console.read_text()
            assert time.monotonic() < deadline, console.read_text()
            time.sleep(0.2)
        token = read_token(home.root)
        with home_client(home) as client:  # the node's own certificate, on its own port
            while True:
                try:
                    form = client.get(f"{PREFIX}/login")
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline, console.read_text()
                    time.sleep(0.2)
            refused = client.post(f"{PREFIX}/data/claim", data={"csrf": "x"})
            by_password = client.post(f"{PREFIX}/login", data={"token": PASSWORD})
            login = client.post(f"{PREFIX}/login", data={"token": token or ""})
            page = client.get(f"{PREFIX}/data")  # with the session cookie it set
            health = client.get("/health")  # the peer API beside it, as before

        assert f"{home.config().endpoint}{PREFIX}" in console.read_text()
        assert stat.S_IMODE((home.root / TOKEN_FILE).stat().st_mode) == 0o600
        assert token is not None and len(token) >= 32
        assert form.status_code == 200 and 'name="token"' in form.text
        assert refused.status_code == 403
        assert by_password.status_code == 303  # the keystore's password opens it too
        assert login.status_code == 303 and "secure" in login.headers["set-cookie"].lower()
        assert page.status_code == 200 and "My data" in page.text
        assert health.status_code == 200
    finally:
        stop_pid(process.pid, signal.SIGTERM)
