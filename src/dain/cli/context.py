"""What a command needs to act on a network: the chain, the contracts, and whose key signs.
Options are declared once here and shared by every command group.

Every command group imports this module, so it stays light: web3, keys and blob storage
load only when a command reaches for the chain (`dain --help` must start at once)."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from dain.errors import ConfigError
from dain.node import NetworkHome

if TYPE_CHECKING:
    from dain.ledger import Ledger, RpcChain
    from dain.storage import FileBlobStore

console = Console()

Home = Annotated[
    Path, typer.Option("--home", envvar="DAIN_HOME", help="The network's home folder.")
]
Rpc = Annotated[
    str | None,
    typer.Option(envvar="DAIN_RPC", help="Chain JSON-RPC URL (default: the home's local chain)."),
]
Keystore = Annotated[
    Path | None,
    typer.Option(envvar="DAIN_KEYSTORE", help="Your key (v3 keystore file); needed to act."),
]
Password = Annotated[
    str | None,
    typer.Option(
        envvar="DAIN_PASSWORD",
        help="The keystore's password. Other users of this computer can see it while the command "
        "runs (in 'ps'): set DAIN_PASSWORD instead, or leave it out to be asked.",
        show_default=False,
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@dataclass(frozen=True)
class Session:
    home: Path
    rpc: str | None = None
    keystore: Path | None = None
    password: str | None = None  # None: asked for when the key is opened

    @property
    def network(self) -> NetworkHome:
        return NetworkHome(self.home)

    def chain(self) -> RpcChain:
        from dain.ledger import RpcChain

        if self.rpc:
            return RpcChain(self.rpc)
        record = self.network.read_chain()
        if record is None:
            raise ConfigError(
                f"No chain runs for {self.home}.",
                hint="Start one with 'dain chain up', or pass --rpc with a node's URL.",
            )
        return RpcChain(record.url)

    def ledger(self, *, sign: bool = True) -> Ledger:
        """A client on the network's contracts, signing with the keystore when `sign`."""
        from dain.identity import Identity
        from dain.ledger import Deployment, Ledger

        if sign and self.keystore is None:
            raise ConfigError(
                "This command acts on chain and needs your key.",
                hint="Pass --keystore FILE (create one with 'dain key new').",
            )
        identity = (
            Identity.load_keystore(self.keystore, key_password(self.password, self.keystore))
            if sign and self.keystore is not None
            else Identity.create()
        )
        return Ledger(self.chain(), Deployment.load(self.network.deployment), identity)  # type: ignore[arg-type]

    def blobs(self) -> FileBlobStore:
        from dain.storage import FileBlobStore

        return FileBlobStore(self.home / "blobs")


def key_password(given: str | None, keystore: Path, *, may_be_empty: bool = False) -> str:
    """The password that opens `keystore`: `given` (from --password or DAIN_PASSWORD), else
    typed once, unseen. Empty only where `may_be_empty` (giving an old key a password)."""
    password = _ask(f"Password of {keystore}") if given is None else given
    if not password and not may_be_empty:
        raise ConfigError(
            "A key's password cannot be empty.",
            hint="Type it when asked, or set DAIN_PASSWORD. If an older dain made this key with "
            f"no password, give it one: 'dain key passwd {keystore}'.",
        )
    return password


def new_key_password(given: str | None, what: str = "the new key") -> str:
    """A password for `what`: `given` (from an option or the environment), else typed twice,
    unseen. Never empty."""
    if given is None:
        given = _ask(f"Password for {what}")
        # compared as the key will use it: é typed as one character or two is the same
        if given and _nfkc(_ask("Type it again")) != _nfkc(given):
            raise ConfigError(
                "The two passwords differ; nothing was changed.", hint="Run the command again."
            )
    if not given:
        raise ConfigError(
            "A key's password cannot be empty: anyone who copies the key file could use it.",
            hint="Type one when asked, or set DAIN_PASSWORD (scripts and services).",
        )
    return given


def _ask(prompt: str) -> str:
    # on stderr, so --json output stays clean; an empty answer is returned, not re-asked
    try:
        return str(typer.prompt(prompt, default="", show_default=False, hide_input=True,
                                err=True))  # fmt: skip
    except typer.Abort:  # end of input (no terminal, nothing piped), or Ctrl-C
        raise ConfigError(
            "No password was given.",
            hint="Type it when asked, or set DAIN_PASSWORD (scripts and services).",
        ) from None


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def emit(as_json: bool, data: Any, render: Callable[[], None]) -> None:
    """JSON for programs, or the human rendering."""
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        render()


def parse_asset_id(text: str, known: Iterable[int] = ()) -> int:
    """An asset id as typed: 0x and 64 hex digits (0x and leading zeros optional) or the
    decimal token id a wallet shows; a truncated or garbled one is refused, naming the form
    and any of `known` (the node's own assets) it may be a piece of."""
    from dain.data import parse_asset_id as parse

    return parse(text, known)


def short(asset_id: int) -> str:
    """The first digits of an asset id's written form, for tables."""
    from dain.data import format_asset_id

    return format_asset_id(asset_id)[:14] + "…"
