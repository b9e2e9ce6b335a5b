"""`dain devnet up|demo|down`: a network of real node processes on this machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dain.cli.chain import DEFAULT_BLOCK_TIME
from dain.cli.context import JsonFlag, console, emit
from dain.node import NetworkHome

app = typer.Typer(help="A network of real node processes on 127.0.0.1.", no_args_is_help=True)

DevnetHome = Annotated[
    Path,
    typer.Option("--home", envvar="DAIN_DEVNET_HOME", help="The devnet's folder."),
]
DEFAULT = Path.home() / ".dain" / "devnet-processes"


def _cluster(home: Path):  # type: ignore[no-untyped-def]
    from dain.devnet import Cluster

    return Cluster(NetworkHome(home))


@app.command()
def up(
    nodes: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=6,
            help="Hospital nodes (a researcher node joins too); default 4.",
            show_default=False,
        ),
    ] = None,
    block_time: Annotated[
        int,
        typer.Option(
            min=0,
            help="Also mine an empty block every this many seconds, so votes close by "
            "themselves (as 'dain chain up'); 0: blocks only for transactions.",
        ),
    ] = DEFAULT_BLOCK_TIME,
    home: DevnetHome = DEFAULT,
    as_json: JsonFlag = False,
) -> None:
    """Start anvil and one process per node, each with its own home, key and data; after
    'dain devnet down', start the same devnet again where it stopped."""
    started = _cluster(home).up(nodes, block_time)
    data = [
        {"name": n.name, "pid": n.pid, "endpoint": n.endpoint, "address": n.address}
        for n in started
    ]

    def render() -> None:
        table = Table(title=f"devnet in {home}", title_justify="left")
        for column in ("node", "pid", "endpoint", "address"):
            table.add_column(column)
        for n in started:
            table.add_row(n.name, str(n.pid), n.endpoint, n.address)
        console.print(table)

    emit(as_json, data, render)


@app.command()
def demo(
    rounds: Annotated[int, typer.Option(min=2, help="Training rounds.")] = 8,
    revoke_after: Annotated[
        int, typer.Option(min=1, help="Round after which a hospital revokes.")
    ] = 4,
    home: DevnetHome = DEFAULT,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the figures here.")
    ] = None,
) -> None:
    """The demo story across the running node processes."""
    from dain.cli.demo_view import RichReporter
    from dain.devnet import StoryConfig, run_cluster_story

    reporter = RichReporter(console)
    with reporter:
        result = run_cluster_story(
            _cluster(home), StoryConfig(rounds=rounds, revoke_after=revoke_after), reporter
        )
    reporter.summary(result)
    if json_out is not None:
        json_out.write_text(json.dumps(result.to_dict(), indent=2) + "\n")


@app.command()
def down(home: DevnetHome = DEFAULT) -> None:
    """Stop every node process and the chain, each by its pid; 'dain devnet up' starts
    them again (the chain's state and every node's home stay)."""
    stopped = _cluster(home).down()
    console.print(f"Stopped {', '.join(stopped) or 'no node'} and the chain.")
