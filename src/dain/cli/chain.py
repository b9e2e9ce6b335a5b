"""`dain chain up|down|status`: a local anvil chain for a network home."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from dain.cli.home import DEFAULT_HOME, ChainRecord, NetworkHome
from dain.errors import ConfigError
from dain.identity import Identity
from dain.ledger import TOKEN_UNIT, Deployment, Ledger, RpcChain, deploy
from dain.ledger.anvil import AnvilProcess, free_port

app = typer.Typer(help="Run a local chain (anvil) for a dain network.", no_args_is_help=True)
console = Console()

HomeOption = Annotated[
    Path, typer.Option("--home", envvar="DAIN_HOME", help="The network's home folder.")
]
PasswordOption = Annotated[
    str,
    typer.Option(
        envvar="DAIN_PASSWORD",
        help="Password of the treasury keystore. The default suits a local test chain only.",
    ),
]


def _running(home: NetworkHome) -> ChainRecord | None:
    record = home.read_chain()
    if record is None:
        return None
    if not AnvilProcess(record.pid, record.port, None).alive():
        home.chain_record.unlink()  # a stale record of a chain that is gone
        return None
    return record


@app.command()
def up(
    home: HomeOption = DEFAULT_HOME,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1; 0 picks a free one.")] = 8545,
    password: PasswordOption = "devnet",
) -> None:
    """Start anvil with its state kept in the home folder; deploy dain's contracts once."""
    where = NetworkHome(home)
    if (record := _running(where)) is not None:
        raise ConfigError(f"A chain already runs for {home} at {record.url} (pid {record.pid}).")
    where.root.mkdir(parents=True, exist_ok=True)
    anvil = AnvilProcess.start(
        port=port or free_port(), state_file=where.anvil_state, log_file=where.anvil_log
    )
    where.write_chain(ChainRecord(anvil.url, anvil.pid, anvil.port))
    chain = RpcChain(anvil.url)
    if where.deployment.exists():
        deployment = Deployment.load(where.deployment)
        if not chain.web3.eth.get_code(deployment.jobs):  # type: ignore[arg-type]
            anvil.stop()
            where.chain_record.unlink()
            raise ConfigError(
                f"The contracts recorded in {where.deployment} are not on this chain: "
                f"its state file {where.anvil_state} is missing or from another network.",
                hint="Delete the home folder to start a new network.",
            )
        console.print(f"Chain up at {anvil.url} (pid {anvil.pid}); contracts as recorded.")
        return
    treasury = Identity.create()
    treasury.save_keystore(where.treasury_keystore, password)
    chain.fund(treasury.address, 10**21)
    deployment = deploy(chain.web3, treasury)
    deployment.save(where.deployment)
    console.print(f"Chain up at {anvil.url} (pid {anvil.pid}); contracts deployed:")
    for name in ("token", "governor", "registry", "assets", "jobs"):
        console.print(f"  {name:<9} {getattr(deployment, name)}")


@app.command()
def down(home: HomeOption = DEFAULT_HOME) -> None:
    """Stop the home's anvil by its pid; its state is written to the home folder."""
    where = NetworkHome(home)
    record = _running(where)
    if record is None:
        console.print(f"No chain runs for {home}.")
        return
    AnvilProcess(record.pid, record.port, where.anvil_state).stop()
    where.chain_record.unlink(missing_ok=True)
    console.print(f"Chain stopped (pid {record.pid}); state kept in {where.anvil_state}.")


@app.command()
def status(home: HomeOption = DEFAULT_HOME) -> None:
    """Whether the home's chain runs, where, and at which block."""
    where = NetworkHome(home)
    record = _running(where)
    if record is None:
        console.print(f"No chain runs for {home}.")
        raise typer.Exit(3)
    chain = RpcChain(record.url)
    block = chain.web3.eth.block_number
    console.print(f"Chain {chain.chain_id} at {record.url} (pid {record.pid}), block {block}.")


@app.command()
def admit(
    address: Annotated[str, typer.Argument(help="The new member's address.")],
    tokens: Annotated[
        int, typer.Option(help="Whole DAIN tokens to give them from the treasury.")
    ] = 0,
    home: HomeOption = DEFAULT_HOME,
    password: PasswordOption = "devnet",
) -> None:
    """On a local test chain: the treasury admits a founding member, gives it gas money and
    tokens. On a live network, members are admitted by vote ('dain gov propose --admit')."""
    where = NetworkHome(home)
    record = _running(where)
    if record is None:
        raise ConfigError(f"No chain runs for {home}.", hint="Start one with 'dain chain up'.")
    chain = RpcChain(record.url)
    treasury = Identity.load_keystore(where.treasury_keystore, password)
    ledger = Ledger(chain, Deployment.load(where.deployment), treasury)
    chain.fund(address, 10**19)
    ledger.registry.admit(address)
    if tokens:
        ledger.token.transfer(address, tokens * TOKEN_UNIT)
    console.print(f"Admitted {address} with {tokens} DAIN and gas money.")
