"""`dain node init|start|status`: running a node."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dain.cli.context import JsonFlag, Password, console, emit, key_password, new_key_password
from dain.cli.node_view import render
from dain.errors import ConfigError

if TYPE_CHECKING:  # a node's home opens keys (eth_account): loaded by the commands using it
    from dain.node import NodeHome

app = typer.Typer(help="Create, run and watch a node.", no_args_is_help=True)

NodeHomeOption = Annotated[
    Path | None, typer.Option("--home", help="The node's folder (default ~/.dain/NAME).")
]


def node_home(home: Path | None, name: str | None = None) -> NodeHome:
    from dain.node import NodeHome

    if home is None and name is None:
        raise ConfigError("Say which node: pass --home.")
    return NodeHome(home or Path.home() / ".dain" / str(name))


@app.command()
def init(
    name: Annotated[str, typer.Option(help="The node's name.")],
    home: NodeHomeOption = None,
    host: Annotated[
        str, typer.Option(help="Address or DNS name peers reach the node at (and it listens on).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the node's HTTPS API.")] = 8600,
    rpc: Annotated[str, typer.Option(help="The chain's JSON-RPC URL.")] = "http://127.0.0.1:8545",
    deployment: Annotated[Path, typer.Option(help="The network's deployment.json.")] = Path(
        "deployment.json"
    ),
    keystore: Annotated[
        Path | None,
        typer.Option(
            help="Use this existing key (a v3 keystore) instead of making one; the node's "
            "copy keeps its password.",
        ),
    ] = None,
    private_peers: Annotated[
        bool,
        typer.Option(
            "--private-peers",
            help="Talk to peers at private and loopback addresses (a network on one machine "
            "or one LAN); their certificates are still pinned on chain.",
        ),
    ] = False,
    password: Password = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a node home: key, TLS certificate, settings, blob store and state database.
    The certificate is self-signed: peers trust it because the node publishes its
    fingerprint on chain when it starts."""
    from dain.node import NodeConfig

    where = node_home(home, name)
    if not deployment.exists():
        raise ConfigError(f"No deployment record at {deployment}.", hint="Pass --deployment.")
    if where.config_file.exists():  # before a password is asked for
        raise ConfigError(f"{where.root} already holds a node.",
                          hint="Choose another --home or name.")  # fmt: skip
    config = NodeConfig(name=name, host=host, port=port, rpc=rpc,
                        deployment=str(deployment.resolve()),
                        allow_private_peers=private_peers)  # fmt: skip
    if keystore is None:
        identity = where.init(config, new_key_password(password, "the node's key"))
    else:
        from dain.identity import Identity

        secret = key_password(password, keystore)
        identity = where.init(config, secret, identity=Identity.load_keystore(keystore, secret))
    fingerprint = where.tls_fingerprint(config).hex()
    data = {
        "name": name,
        "home": str(where.root),
        "address": identity.address,
        "endpoint": config.endpoint,
        "tls_fingerprint": fingerprint,
    }
    emit(
        as_json,
        data,
        lambda: console.print(
            f"Node {name} ({identity.address}) created in {where.root}.\n"
            f"It will serve {config.endpoint} with a certificate whose SHA-256 is {fingerprint}."
        ),
    )


@app.command()
def start(home: NodeHomeOption = None, password: Password = None) -> None:
    """Run the node in the foreground: its API, and its part in every job. A service
    manager passes the key's password in DAIN_PASSWORD; otherwise you are asked. What it
    does goes to the console and to logs/node.log in its home (log_level in node.toml)."""
    from dain.node import serve

    where = node_home(home)
    where.config()  # a missing or broken home is reported before a password is asked for
    # asked for once the port is taken: a busy port is named before the key is unlocked
    from dain.web import with_dashboard

    def announce(url: str, token: str, path: Path) -> None:
        # unwrapped: the address and token are copied whole
        console.print(f"Dashboard: {url} (access token {token}, also in {path})", soft_wrap=True)

    serve(where, lambda: key_password(password, where.keystore),
          extend=with_dashboard(where, announce))  # fmt: skip


@app.command()
def status(home: NodeHomeOption = None, as_json: JsonFlag = False) -> None:
    """What a running node is doing."""
    import httpx

    from dain.node import home_client

    where = node_home(home)
    config = where.config()
    try:
        with home_client(where, timeout=5) as client:  # trusts the home's own certificate
            answer = client.get("/status")
        data = answer.json()
    except (httpx.HTTPError, ValueError):
        raise ConfigError(
            f"Node {config.name} does not answer at {config.endpoint}; is it running?"
        ) from None
    if answer.status_code != 200 or not isinstance(data, dict) or "node" not in data:
        reason = data.get("error") if isinstance(data, dict) else None
        raise ConfigError(
            f"Node {config.name} at {config.endpoint} could not say what it is doing: "
            f"{reason or f'status {answer.status_code}'}."
        )

    emit(as_json, data, lambda: render(data, console))
    runner = data.get("runner")
    if runner not in (None, "starting", "stepping"):
        # the API answers, but the node takes no part in its jobs: say so, and fail
        raise ConfigError(
            f"Node {config.name} is up, but its job runner is {runner}: "
            f"{data.get('last_error') or 'no step has finished for a while'}.",
            hint="It retries by itself; if this lasts, check the chain URL in node.toml and "
            "the node's log (logs/node.log in its home).",
        )


@app.command()
def stop(home: NodeHomeOption = None, as_json: JsonFlag = False) -> None:
    """Stop the home's running node (by the pid it wrote) and wait until it is gone."""
    from dain.ledger import stop_pid
    from dain.node import pid_alive

    where = node_home(home)
    try:
        pid = int(where.pid_file.read_text().strip())
    except (OSError, ValueError):
        raise ConfigError(f"No node runs from {where.root}: it has no node.pid.",
                          hint="Start it with 'dain node start'.") from None  # fmt: skip
    if not pid_alive(pid):  # it crashed: the number may be another program's by now
        where.pid_file.unlink(missing_ok=True)
        raise ConfigError(
            f"The node of {where.root} was not running (it may have crashed).",
            hint="Its log is in logs/node.log; 'dain node start' starts it.",
        )
    stop_pid(pid)
    where.pid_file.unlink(missing_ok=True)
    emit(as_json, {"stopped": pid}, lambda: console.print(f"Stopped the node (pid {pid})."))


def ui(
    home: NodeHomeOption = None,
    browser: Annotated[bool, typer.Option(help="Open it in the default browser.")] = True,
) -> None:
    """Open the dashboard of the home's running node (the address and access token its
    'node start' issued)."""
    import webbrowser

    from dain.node import pid_alive
    from dain.web import read_token

    where = node_home(home)
    config = where.config()
    try:
        running = pid_alive(int(where.pid_file.read_text().strip()))
    except (OSError, ValueError):
        running = False
    token = read_token(where.root)
    if not running or token is None:
        raise ConfigError(f"No node runs from {where.root}, so no dashboard is served.",
                          hint=f"Start it: dain node start --home {where.root}")  # fmt: skip
    url = f"{config.endpoint}/ui"
    console.print(f"Dashboard: {url}\nAccess token: {token}", soft_wrap=True)
    if browser:
        webbrowser.open(url)
