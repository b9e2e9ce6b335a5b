"""`dain consent grant|update|revoke|show`: an owner's terms for a data asset."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from dain.cli.context import (
    Home,
    JsonFlag,
    Keystore,
    Password,
    Rpc,
    Session,
    console,
    emit,
    parse_asset_id,
)
from dain.data import format_asset_id, parse_expiry
from dain.errors import ConfigError, DainError
from dain.node import DEFAULT_HOME

if TYPE_CHECKING:  # policies and the ledger (web3) load only when a command needs them
    from dain.data import ConsentPolicy
    from dain.ledger import Ledger, OnChainPolicy

app = typer.Typer(
    help="Grant, change, revoke and read consent for your data assets.", no_args_is_help=True
)

Purposes = Annotated[
    list[str], typer.Option("--purpose", help="An allowed purpose tag (repeat for more).")
]
Expiry = Annotated[
    str, typer.Option(help="When consent ends: a date (2027-06-30), unix seconds, or 'never'.")
]
Price = Annotated[
    str, typer.Option(help="Price per round your data is used, in DAIN (e.g. 0.5; 0: free).")
]
Requesters = Annotated[
    list[str] | None,
    typer.Option("--requester", help="A DID allowed to request (repeat for more)."),
]
Issuer = Annotated[
    str | None, typer.Option(help="Or: requesters holding a credential from this issuer DID.")
]
MinParticipants = Annotated[int, typer.Option(help="Fewest assets in any round that uses yours.")]
MaxEpsilon = Annotated[
    float | None, typer.Option(help="Most privacy loss (epsilon) a job may spend; omit for none.")
]
SecureAggregation = Annotated[bool, typer.Option(help="Require secure aggregation of updates.")]
Statement = Annotated[str, typer.Option(help="Your terms in your own words, for people.")]


def build_policy(
    purposes: list[str], expiry: str, price: str, requesters: list[str] | None, issuer: str | None,
    min_participants: int, max_epsilon: float | None, secure_aggregation: bool, statement: str,
) -> ConsentPolicy:  # fmt: skip
    from dain.data import ConsentPolicy
    from dain.ledger import parse_dain

    return ConsentPolicy(
        purposes=tuple(purposes),
        expiry=parse_expiry(expiry),
        price_per_round=parse_dain(price),
        allowed_requesters=tuple(requesters or ()),
        credential_issuer=issuer,
        min_participants=min_participants,
        max_epsilon=max_epsilon,
        secure_aggregation=secure_aggregation,
        statement=statement,
    )


def policy_dict(p: OnChainPolicy) -> dict[str, object]:
    from dain.ledger import format_dain

    return {
        "asset_id": f"0x{p.asset_id:064x}",
        "owner": p.owner,
        "version": p.version,
        "revoked": p.revoked,
        "purposes": list(p.policy.purposes),
        "expiry": p.policy.expiry,
        "price_per_round": format_dain(p.policy.price_per_round),
        "price_per_round_base_units": str(p.policy.price_per_round),
        "allowed_requesters": list(p.policy.allowed_requesters),
        "credential_issuer": p.policy.credential_issuer,
        "min_participants": p.policy.min_participants,
        "max_epsilon": p.policy.max_epsilon,
        "secure_aggregation": p.policy.secure_aggregation,
        "policy_cid": p.policy_cid,
    }


def show_policy(p: OnChainPolicy) -> None:
    table = Table(
        title=f"Consent for asset 0x{p.asset_id:064x}", show_header=False, title_justify="left"
    )
    for key, value in policy_dict(p).items():
        if key.endswith("base_units"):
            continue
        if key == "expiry":
            value = (
                "never" if not value else dt.datetime.fromtimestamp(int(value), dt.UTC).isoformat()
            )
        table.add_row(key.replace("_", " "), str(value if value not in (None, []) else "-"))
    console.print(table)


def _set(
    session: Session, asset: str, policy: ConsentPolicy, as_json: bool, *, want_revoked: bool
) -> None:
    """Sets the asset's policy (refusing a grant of live consent, or an update of revoked
    consent) and shows the terms as the chain now holds them."""
    ledger = session.ledger()
    asset_id = parse_asset_id(asset)
    current = ledger.assets.policy(asset_id)
    if want_revoked and not current.revoked:
        raise ConfigError(
            f"Consent for asset {format_asset_id(asset_id)} is already granted.",
            hint="Use 'dain consent update' to change its terms.",
        )
    if not want_revoked and current.revoked:
        raise ConfigError(
            f"Consent for asset {format_asset_id(asset_id)} is revoked.",
            hint="Use 'dain consent grant' to consent again.",
        )
    _apply(session, ledger, asset_id, policy, as_json)


def _apply(
    session: Session, ledger: Ledger, asset_id: int, policy: ConsentPolicy, as_json: bool
) -> None:
    cid = session.blobs().put(policy.document())
    ledger.assets.set_policy(asset_id, policy, cid)
    after = ledger.assets.policy(asset_id)
    emit(as_json, policy_dict(after), lambda: show_policy(after))


@app.command()
def grant(
    asset: Annotated[str, typer.Argument(help="The asset id (0x…).")],
    purpose: Purposes,
    expiry: Expiry = "never",
    price: Price = "0",
    requester: Requesters = None,
    credential_issuer: Issuer = None,
    min_participants: MinParticipants = 0,
    max_epsilon: MaxEpsilon = None,
    secure_aggregation: SecureAggregation = False,
    statement: Statement = "",
    home: Home = DEFAULT_HOME,
    rpc: Rpc = None,
    keystore: Keystore = None,
    password: Password = None,
    as_json: JsonFlag = False,
) -> None:
    """Consent again, under new terms, to an asset whose consent you revoked."""
    session = Session(home, rpc, keystore, password)
    policy = build_policy(purpose, expiry, price, requester, credential_issuer, min_participants,
                          max_epsilon, secure_aggregation, statement)  # fmt: skip
    _set(session, asset, policy, as_json, want_revoked=True)


@app.command()
def update(
    asset: Annotated[str, typer.Argument(help="The asset id (0x…).")],
    purpose: Annotated[
        list[str] | None, typer.Option("--purpose", help="Replaces the purposes (repeat).")
    ] = None,
    expiry: Annotated[str | None, typer.Option(help="A new end: date, unix s, 'never'.")] = None,
    price: Annotated[str | None, typer.Option(help="A new price per round, in DAIN.")] = None,
    requester: Requesters = None,
    credential_issuer: Issuer = None,
    min_participants: Annotated[int | None, typer.Option(help="A new fewest assets.")] = None,
    max_epsilon: Annotated[
        float | None, typer.Option(help="A new most epsilon (0: no bound).")
    ] = None,
    secure_aggregation: Annotated[
        bool | None, typer.Option(help="Require (or no longer require) secure aggregation.")
    ] = None,
    statement: Annotated[str | None, typer.Option(help="New terms in your words.")] = None,
    home: Home = DEFAULT_HOME,
    rpc: Rpc = None,
    keystore: Keystore = None,
    password: Password = None,
    as_json: JsonFlag = False,
) -> None:
    """Change some terms of a live consent; every term not given stays as it is. Later
    rounds follow the new terms."""
    from dataclasses import replace

    from dain.data import ConsentPolicy
    from dain.ledger import parse_dain
    from dain.storage import parse_json

    session = Session(home, rpc, keystore, password)
    ledger = session.ledger()
    asset_id = parse_asset_id(asset)
    current = ledger.assets.policy(asset_id)
    if current.revoked:
        raise ConfigError(f"Consent for asset 0x{asset_id:064x} is revoked.",
                          hint="Use 'dain consent grant' to consent again.")  # fmt: skip
    kept = current.policy
    blobs = session.blobs()
    try:  # the owner's words are in the policy document, not on chain: keep them if here
        if blobs.has(current.policy_cid):
            document = parse_json(blobs.get(current.policy_cid), max_bytes=2**20)
            kept = replace(kept, statement=ConsentPolicy.from_dict(document).statement)
    except DainError:
        pass  # a document this home cannot read: the new one has no statement unless given
    changes: dict[str, object] = {}
    if purpose:
        changes["purposes"] = tuple(purpose)
    if expiry is not None:
        changes["expiry"] = parse_expiry(expiry)
    if price is not None:
        changes["price_per_round"] = parse_dain(price)
    if requester is not None:
        changes["allowed_requesters"] = tuple(requester)
    if credential_issuer is not None:
        changes["credential_issuer"] = credential_issuer or None
    if min_participants is not None:
        changes["min_participants"] = min_participants
    if max_epsilon is not None:
        changes["max_epsilon"] = max_epsilon or None
    if secure_aggregation is not None:
        changes["secure_aggregation"] = secure_aggregation
    if statement is not None:
        changes["statement"] = statement
    if not changes:
        raise ConfigError(
            "Nothing to change: no term was given.",
            hint="Give the terms to change, e.g. --price 0.5 or --expiry 2027-12-31.",
        )
    _apply(session, ledger, asset_id, replace(kept, **changes), as_json)


@app.command()
def revoke(
    asset: Annotated[str, typer.Argument(help="The asset id (0x…).")],
    home: Home = DEFAULT_HOME,
    rpc: Rpc = None,
    keystore: Keystore = None,
    password: Password = None,
    as_json: JsonFlag = False,
) -> None:
    """Withdraw consent: no later round may use the asset."""
    ledger = Session(home, rpc, keystore, password).ledger()
    asset_id = parse_asset_id(asset)
    if ledger.assets.policy(asset_id).revoked:
        raise ConfigError(f"Consent for asset 0x{asset_id:064x} is already revoked.",
                          hint="Nothing to do; 'dain consent grant' consents again.")  # fmt: skip
    block = ledger.assets.revoke(asset_id)
    emit(
        as_json,
        {"asset_id": f"0x{asset_id:064x}", "revoked": True, "block": block},
        lambda: console.print(f"Consent for 0x{asset_id:064x} revoked from block {block} on."),
    )


@app.command()
def show(
    asset: Annotated[str, typer.Argument(help="The asset id (0x…).")],
    home: Home = DEFAULT_HOME,
    rpc: Rpc = None,
    as_json: JsonFlag = False,
) -> None:
    """The asset's consent terms as the chain holds them."""
    policy = Session(home, rpc).ledger(sign=False).assets.policy(parse_asset_id(asset))
    emit(as_json, policy_dict(policy), lambda: show_policy(policy))
