"""`dain key new`: a participant's key, in an encrypted v3 keystore."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dain.cli.context import JsonFlag, Password, console, emit

app = typer.Typer(help="Create and inspect keys.", no_args_is_help=True)


@app.command()
def new(
    out: Annotated[Path, typer.Argument(help="Where to write the keystore (never overwritten).")],
    password: Password = "",
    chain_id: Annotated[int, typer.Option(help="Chain id for the DID shown.")] = 31337,
    as_json: JsonFlag = False,
) -> None:
    """Create a key; print its address and DID."""
    from dain.identity import Identity  # eth_account: only when a key is made

    identity = Identity.create()
    identity.save_keystore(out, password)
    data = {"address": identity.address, "did": identity.did(chain_id), "keystore": str(out)}
    emit(
        as_json,
        data,
        lambda: console.print(f"New key {identity.address} in {out}\nDID {data['did']}"),
    )
