"""`dain`: the command line for data owners, requesters, members and auditors.

DainError becomes a plain message and a non-zero exit code here, never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from dain.errors import DainError
from dain.node import DEFAULT_HOME, NetworkHome

app = typer.Typer(
    name="dain",
    help="dain: train one AI model across many data owners; data never leaves them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)


def _register_subcommands() -> None:
    from dain.cli import audit, chain, consent, data, devnet, gov, job, key, node, rewards, sim

    app.add_typer(chain.app, name="chain")
    app.add_typer(key.app, name="key")
    app.add_typer(gov.app, name="gov")
    app.add_typer(consent.app, name="consent")
    app.add_typer(audit.app, name="audit")
    app.add_typer(node.app, name="node")
    app.add_typer(data.app, name="data")
    app.add_typer(job.app, name="job")
    app.add_typer(rewards.app, name="rewards")
    app.add_typer(devnet.app, name="devnet")
    app.command(name="sim")(sim.sim)
    app.command(name="ui")(node.ui)


@app.callback()
def _root() -> None:
    """dain: train one AI model across many data owners; data never leaves them."""


@app.command()
def demo(
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the demo's figures to this JSON file.")
    ] = None,
    rounds: Annotated[int, typer.Option(min=2, help="Training rounds.")] = 12,
    revoke_after: Annotated[
        int, typer.Option(min=1, help="Round after which a hospital revokes.")
    ] = 6,
    seed: Annotated[int, typer.Option(help="Seed for the data split and training.")] = 7,
    rpc: Annotated[
        str | None,
        typer.Option(
            help="Run on this JSON-RPC dev chain (e.g. from 'dain chain up') instead, on the "
            "contracts recorded in --home, or on new ones recorded there."
        ),
    ] = None,
    home: Annotated[
        Path,
        typer.Option("--home", envvar="DAIN_HOME", help="With --rpc: the network's home folder."),
    ] = DEFAULT_HOME,
    password: Annotated[
        str,
        typer.Option(
            envvar="DAIN_PASSWORD",
            help="With --rpc: the password of the home's treasury key (the one 'dain chain up' "
            "took).",
        ),
    ] = "devnet",
    secure: Annotated[
        bool, typer.Option(help="Securely aggregate updates: the aggregator sees only sums.")
    ] = False,
    epsilon: Annotated[
        float | None,
        typer.Option(
            min=0.1,
            help="Train with record-level differential privacy at this "
            "epsilon (delta 1e-5) for the whole job.",
        ),
    ] = None,
) -> None:
    """Four hospitals train a diagnosis model together (embedded chain unless --rpc)."""
    from dain.cli.demo_view import RichReporter
    from dain.devnet import StoryConfig, run_story

    if revoke_after >= rounds:
        raise DainError(
            f"--revoke-after ({revoke_after}) must be smaller than --rounds ({rounds})."
        )
    if json_out is not None and not json_out.parent.exists():
        raise DainError(
            f"The folder {json_out.parent} does not exist; create it or choose another path."
        )
    from dain.ledger import RpcChain

    chain = RpcChain(rpc) if rpc else None
    network = None
    if chain is not None:  # the home's contracts, so 'dain audit' there finds the demo's job
        from dain.devnet import demo_network

        deployment, treasury, deployed = demo_network(NetworkHome(home), chain, password)
        network = (deployment, treasury)
    reporter = RichReporter(console)
    with reporter:
        config = StoryConfig(rounds=rounds, revoke_after=revoke_after, seed=seed,
                             secure=secure, epsilon=epsilon)  # fmt: skip
        result, _ = run_story(config, reporter, chain=chain, existing=network)
    reporter.summary(result)
    if network is not None:
        recorded = "deployed and recorded" if deployed else "recorded"
        console.print(f"Contracts {recorded} in {NetworkHome(home).deployment}; "
                      f"'dain audit job {result.job_id} --home {home} --rpc {rpc}' "
                      "reads the job's trail.")  # fmt: skip
    if json_out is not None:
        json_out.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        console.print(f"Figures written to {json_out}.")


_register_subcommands()


def main() -> None:
    try:
        app()
    except DainError as exc:
        errors.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
