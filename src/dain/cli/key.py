"""`dain key new|import|passwd`: a participant's key, in an encrypted v3 keystore."""

from __future__ import annotations

import os
import string
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dain.cli.context import (
    JsonFlag,
    Password,
    console,
    emit,
    key_password,
    new_key_password,
)
from dain.errors import ConfigError

if TYPE_CHECKING:  # eth_account: loaded by the commands that open keys
    from dain.identity import Identity

app = typer.Typer(help="Create or import keys and change their passwords.", no_args_is_help=True)
MAX_KEY_FILE_BYTES = 4096  # a private key in hex is 66 characters: anything far larger is not one

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


@app.command(name="import")
def import_(
    out: Annotated[
        Path, typer.Argument(help="Where to write dain's keystore (never overwritten).")
    ],
    keystore: Annotated[
        Path | None,
        typer.Option(help="An Ethereum keystore (v3 JSON, from geth, ethers, MetaMask, dain...)."),
    ] = None,
    key_file: Annotated[
        Path | None, typer.Option(help="A file holding a raw private key (64 hex digits).")
    ] = None,
    password: Password = None,
    chain_id: Annotated[int, typer.Option(help="Chain id for the DID shown.")] = 31337,
    as_json: JsonFlag = False,
) -> None:
    """Bring an existing key into dain. From --keystore FILE it opens with its password
    (--password, DAIN_PASSWORD, or asked), which the new keystore keeps; from --key-file
    FILE, or typed unseen when neither is given, it is encrypted under a new password.
    A private key is never taken from the command line: shell history and 'ps' keep it."""
    if keystore is not None and key_file is not None:
        raise ConfigError("Give --keystore or --key-file, not both.")
    if _is_hex_key(out.name):
        raise ConfigError(
            "That looks like a private key given as the keystore's path; dain takes keys only "
            "from a file or typed unseen. The key is now in your shell history: if it guards "
            "anything of value, move what it holds to a new key.",
            hint="Run 'dain key import OUT.json' and type the key when asked, or put it in a "
            "file and pass --key-file FILE.",
        )
    if out.exists():  # before any password is asked or any key derivation run
        raise ConfigError(
            f"{out} already exists; dain will not overwrite it.",
            hint="Choose another path or move the old file away first.",
        )
    if keystore is not None:
        secret = key_password(password, keystore)
        identity = _open_keystore(keystore, secret)
    else:
        identity = _raw_key(key_file)
        secret = new_key_password(password, "the imported key")
    identity.save_keystore(out, secret)
    data = {"address": identity.address, "did": identity.did(chain_id), "keystore": str(out)}
    where = keystore or key_file

    def render() -> None:
        console.print(f"Imported key {identity.address} into {out}\nDID {data['did']}")
        if key_file is not None:
            console.print(f"{key_file} still holds the key unencrypted: delete it once you have "
                          "a backup of the new keystore.")  # fmt: skip

    emit(as_json, data | {"from": str(where) if where else "typed"}, render)


def _open_keystore(path: Path, password: str) -> Identity:
    from dain.identity import Identity

    return Identity.load_keystore(path, password)  # bounded and checked (dain.identity.keystore)


def _raw_key(path: Path | None) -> Identity:
    """The key in `path` (or typed unseen): 32 bytes in hex, with or without 0x."""
    from dain.identity import Identity

    where = str(path) if path else "The key typed"
    if path is None:
        text = _ask_key()
    else:
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_KEY_FILE_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"Could not read {path}: {exc.strerror}.") from exc
        if len(raw) > MAX_KEY_FILE_BYTES:
            raise ConfigError(f"{path} is not a private key file (far too large).",
                              hint=_KEY_HINT)  # fmt: skip
        text = raw.decode("ascii", errors="replace")
    if text.lstrip().startswith("{"):
        raise ConfigError(f"{where} looks like a keystore, not a raw key.",
                          hint="Import it with --keystore FILE.")  # fmt: skip
    if not _is_hex_key(text.strip()):
        raise ConfigError(f"{where} is not a private key.", hint=_KEY_HINT)
    try:
        return Identity.from_private_key(bytes.fromhex(text.strip()[-64:]))
    except ValueError:  # 0, or not below the curve's order
        raise ConfigError(f"{where} is not a valid secp256k1 private key.") from None


def _is_hex_key(text: str) -> bool:
    digits = text.removeprefix("0x").removeprefix("0X")
    return len(digits) == 64 and set(digits) <= set(string.hexdigits)


_KEY_HINT = "A private key is 64 hex digits, optionally after 0x, alone in the file."


def _ask_key() -> str:
    try:
        return str(typer.prompt("Private key (hex)", default="", show_default=False,
                                hide_input=True, err=True))  # fmt: skip
    except typer.Abort:  # end of input, or Ctrl-C
        raise ConfigError(
            "No private key was given.", hint="Type it when asked, or pass --key-file FILE."
        ) from None
