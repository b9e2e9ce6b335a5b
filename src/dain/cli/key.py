"""`dain key new|passwd`: a participant's key, in an encrypted v3 keystore."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from dain.cli.context import (
    JsonFlag,
    Password,
    console,
    emit,
    key_password,
    new_key_password,
)

app = typer.Typer(help="Create keys and change their passwords.", no_args_is_help=True)

NewPassword = Annotated[
    str | None,
    typer.Option(
        envvar="DAIN_NEW_PASSWORD",
        help="The new password. Other users of this computer can see it while the command runs "
        "(in 'ps'): set DAIN_NEW_PASSWORD instead, or leave it out to be asked.",
        show_default=False,
    ),
]


@app.command()
def new(
    out: Annotated[Path, typer.Argument(help="Where to write the keystore (never overwritten).")],
    password: Password = None,
    chain_id: Annotated[int, typer.Option(help="Chain id for the DID shown.")] = 31337,
    as_json: JsonFlag = False,
) -> None:
    """Create a key; print its address and DID. Without --password or DAIN_PASSWORD you are
    asked for the password twice."""
    from dain.identity import Identity  # eth_account: only when a key is made

    secret = new_key_password(password)
    identity = Identity.create()
    identity.save_keystore(out, secret)
    data = {"address": identity.address, "did": identity.did(chain_id), "keystore": str(out)}
    emit(
        as_json,
        data,
        lambda: console.print(f"New key {identity.address} in {out}\nDID {data['did']}"),
    )


@app.command()
def passwd(
    keystore: Annotated[Path, typer.Argument(help="The keystore file to re-encrypt.")],
    password: Password = None,
    new_password: NewPassword = None,
    as_json: JsonFlag = False,
) -> None:
    """Give a key a new password; its address stays the same. A key made with no password
    by an older dain gets one here: press Enter when asked for the current password."""
    from dain.identity import Identity

    identity = Identity.load_keystore(keystore, key_password(password, keystore,
                                                             may_be_empty=True))  # fmt: skip
    secret = new_key_password(new_password, "the key")
    # written beside the old file, then swapped in one step: a crash leaves one whole key
    staged = keystore.with_name(keystore.name + ".new")
    identity.save_keystore(staged, secret)
    os.replace(staged, keystore)
    emit(
        as_json,
        {"address": identity.address, "keystore": str(keystore)},
        lambda: console.print(f"New password set for {identity.address} in {keystore}."),
    )
