"""`dain chain up|down|status|mine|admit`: a local anvil chain for a network home."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from dain.cli.addresses import parse_address
from dain.cli.context import JsonFlag, emit
from dain.errors import ConfigError
from dain.node import DEFAULT_HOME, NetworkHome, running_chain

app = typer.Typer(help="Run a local chain (anvil) for a dain network.", no_args_is_help=True)
console = Console()
# a vote (20 blocks) closes in about 40 s; the state file grows by about 75 MB a day
DEFAULT_BLOCK_TIME = 2
MINED_PER_CALL = 500  # anvil takes a few ms a block: each call answers well within a timeout

HomeOption = Annotated[
    Path, typer.Option("--home", envvar="DAIN_HOME", help="The network's home folder.")
]
PasswordOption = Annotated[
    str,
    typer.Option(
        envvar="DAIN_PASSWORD",
        help="Password of the treasury keystore. The default suits a local test chain only; "
        "on the command line other users can see it (in 'ps'): set DAIN_PASSWORD instead.",
    ),
]


@app.command()
def up(
    home: HomeOption = DEFAULT_HOME,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1; 0 picks a free one.")] = 8545,
    block_time: Annotated[
        int,
        typer.Option(
            min=0,
            help="Also mine an empty block every this many seconds, so votes (counted in "
            "blocks) close and deadlines pass while nobody sends anything; transactions are "
            "still mined at once. 0: blocks only for transactions and 'dain chain mine'. "
            "Each empty block keeps about 2 KB in the state file.",
        ),
    ] = DEFAULT_BLOCK_TIME,
    password: PasswordOption = "devnet",
) -> None:
    """Start anvil with its state kept in the home folder; deploy dain's contracts once."""
    from dain.devnet import chain_up  # the dev harness and web3: only when used

    record, deployment, fresh = chain_up(NetworkHome(home), port, password, block_time)
    mining = (
        f"Mining: each transaction at once, and a block every {block_time} s."
        if block_time
        else "Mining: a block per transaction, and those 'dain chain mine' asks for."
    )
    if not fresh:
        console.print(f"Chain up at {record.url} (pid {record.pid}); contracts as recorded.")
        console.print(mining)
        return
    console.print(f"Chain up at {record.url} (pid {record.pid}); contracts deployed:")
    for name in ("token", "timelock", "governor", "registry", "assets", "jobs"):
        console.print(f"  {name:<9} {getattr(deployment, name)}")
    console.print(mining)


@app.command()
def down(home: HomeOption = DEFAULT_HOME) -> None:
    """Stop the home's anvil by its pid; its state is written to the home folder."""
    from dain.devnet import chain_down

    where = NetworkHome(home)
    record = chain_down(where)
    if record is None:
        console.print(f"No chain runs for {home}.")
        return
    console.print(f"Chain stopped (pid {record.pid}); state kept in {where.anvil_state}.")


@app.command()
def status(home: HomeOption = DEFAULT_HOME, as_json: JsonFlag = False) -> None:
    """Whether the home's chain runs, where, and at which block."""
    record = running_chain(NetworkHome(home))
    if record is None:
        if as_json:
            print(json.dumps({"running": False}))
        else:
            console.print(f"No chain runs for {home}.")
        raise typer.Exit(3)
    from dain.ledger import RpcChain  # web3: only when there is a chain to ask

    chain = RpcChain(record.url)
    block = chain.web3.eth.block_number
    emit(as_json, {"running": True, "url": record.url, "pid": record.pid,
                   "chain_id": chain.chain_id, "block": block},
         lambda: console.print(f"Chain {chain.chain_id} at {record.url} (pid {record.pid}), "
                               f"block {block}."))  # fmt: skip


@app.command()
def mine(
    blocks: Annotated[int, typer.Argument(min=1, help="How many blocks to mine.")] = 1,
    seconds: Annotated[
        int,
        typer.Option(
            min=0, help="Also move the chain's clock this many seconds on (a timelock's delay)."
        ),
    ] = 0,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """On a local test chain: mine empty blocks now, e.g. to close a vote (its voting period
    is counted in blocks) without waiting."""
    from dain.ledger import RpcChain

    record = running_chain(NetworkHome(home))
    if record is None:
        raise ConfigError(f"No chain runs for {home}.", hint="Start one with 'dain chain up'.")
    chain = RpcChain(record.url)
    left = blocks
    if seconds:
        chain.advance_time(seconds)  # mines the first block, stamped that much later
        left -= 1
    while left:
        batch = min(left, MINED_PER_CALL)
        chain.mine(batch)
        left -= batch
    block = chain.block_number()
    console.print(f"Mined {blocks} block{'s' * (blocks > 1)}; the chain is at block {block}.")


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
    from dain.devnet import admit_founder, treasury_ledger

    address = parse_address(address, "an address to admit")
    if admit_founder(treasury_ledger(NetworkHome(home), password), address, tokens):
        console.print(f"Admitted {address} with {tokens} DAIN and gas money.")
    else:
        console.print(f"{address} was a member already; it got {tokens} DAIN and gas money.")
