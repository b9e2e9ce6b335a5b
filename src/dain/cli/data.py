"""`dain data ...`: a data owner's assets (the rows never leave the owner)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dain.cli.consent import (
    Expiry,
    Issuer,
    MaxEpsilon,
    MinParticipants,
    Price,
    Purposes,
    Requesters,
    SecureAggregation,
    Statement,
    build_policy,
)  # fmt: skip
from dain.cli.context import JsonFlag, Password, console, emit, key_password
from dain.cli.node import NodeHomeOption, node_home

app = typer.Typer(
    help="Register your data as assets (the rows never leave you).", no_args_is_help=True
)


@app.command("register")
def register(
    csv_file: Annotated[Path, typer.Argument(help="A CSV file with a header row.")],
    target: Annotated[str, typer.Option(help="The column to predict.")],
    title: Annotated[str, typer.Option(help="A name people will recognise.")],
    purpose: Purposes,
    home: NodeHomeOption = None,
    expiry: Expiry = "never",
    price: Price = 0,
    requester: Requesters = None,
    credential_issuer: Issuer = None,
    min_participants: MinParticipants = 0,
    max_epsilon: MaxEpsilon = None,
    secure_aggregation: SecureAggregation = False,
    statement: Statement = "",
    password: Password = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a CSV file as a data asset with a consent policy. Only its manifest (schema,
    size, a salted commitment) and the policy go on chain; the file stays where it is."""
    from dain.data import AssetManifest, load_csv
    from dain.node import StoredAsset, open_node

    where = node_home(home)
    policy = build_policy(purpose, expiry, price, requester, credential_issuer, min_participants,
                          max_epsilon, secure_aggregation, statement)  # fmt: skip
    dataset = load_csv(csv_file, target)
    where.config()  # a missing or broken home is reported before a password is asked for
    node, state = open_node(where, key_password(password, where.keystore))
    manifest, salt = AssetManifest.describe(dataset, title)
    asset_id = node.ledger.assets.register(
        manifest,
        node.blobs.put(manifest.to_json()),
        policy,
        node.blobs.put(policy.document()),
    )
    state.add_asset(StoredAsset(asset_id, title, csv_file.resolve(), target, salt, policy))
    data = {"asset_id": hex(asset_id), "rows": len(dataset), "title": title}
    emit(
        as_json,
        data,
        lambda: console.print(
            f"Registered {title} as asset {hex(asset_id)} ({len(dataset)} rows)."
        ),
    )
