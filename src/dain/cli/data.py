"""`dain data ...`: a data owner's assets (the rows never leave the owner)."""

from __future__ import annotations

import json
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
)
from dain.cli.context import JsonFlag, Password, console, emit, key_password
from dain.cli.node import NodeHomeOption, node_home
from dain.data import format_asset_id
from dain.errors import ConfigError

app = typer.Typer(
    help="Register your data as assets (the rows never leave you).", no_args_is_help=True
)


@app.command("register")
def register(
    path: Annotated[
        Path,
        typer.Argument(
            metavar="PATH",
            help="A CSV or Parquet table, NumPy arrays (.npz with x and y, or a .npy table "
            "whose last column is the target), or a folder of images with one subfolder "
            "per class."
        ),
    ],
    title: Annotated[str, typer.Option(help="A name people will recognise.")],
    purpose: Purposes,
    target: Annotated[
        str | None,
        typer.Option(help="The column to predict (tables); the labels' name in an .npz (y)."),
    ] = None,
    size: Annotated[
        str | None,
        typer.Option(help="Images: HEIGHTxWIDTH to resize to (default: the most common)."),
    ] = None,
    channels: Annotated[
        int | None,
        typer.Option(help="Images: 1 (grayscale) or 3 (RGB); default 1 if all are gray."),
    ] = None,
    home: NodeHomeOption = None,
    expiry: Expiry = "never",
    price: Price = "0",
    requester: Requesters = None,
    credential_issuer: Issuer = None,
    min_participants: MinParticipants = 0,
    max_epsilon: MaxEpsilon = None,
    secure_aggregation: SecureAggregation = False,
    statement: Statement = "",
    password: Password = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a data set (a table, arrays or a folder of images) as a data asset with a
    consent policy. Only its manifest (schema, size, a salted commitment) and the policy go
    on chain; the data stays where it is."""
    from dain.data import AssetManifest, load_asset, load_options
    from dain.node import StoredAsset, open_node

    where = node_home(home)
    policy = build_policy(
        purpose,
        expiry,
        price,
        requester,
        credential_issuer,
        min_participants,
        max_epsilon,
        secure_aggregation,
        statement,
    )
    dataset = load_asset(path, target, _image_size(size), channels)
    where.config()  # a missing or broken home is reported before a password is asked for
    _refuse_registered_twice(where.state, path)
    node, state = open_node(where, key_password(password, where.keystore))
    manifest, salt = AssetManifest.describe(dataset, title)
    asset_id = node.ledger.assets.register(
        manifest,
        node.blobs.put(manifest.to_json()),
        policy,
        node.blobs.put(policy.document()),
    )
    state.add_asset(StoredAsset(asset_id, title, path.resolve(), dataset.target, salt, policy,
                                load_options(dataset)))  # fmt: skip
    data = {"asset_id": format_asset_id(asset_id), "rows": len(dataset), "title": title}
    emit(
        as_json,
        data,
        lambda: console.print(
            f"Registered {title} as asset {format_asset_id(asset_id)} ({len(dataset)} rows)."
        ),
    )


def _image_size(text: str | None) -> tuple[int, int] | None:
    """--size 28x28 (height x width), or 28 for a square."""
    if text is None:
        return None
    try:
        sides = [int(side) for side in text.lower().split("x")]
    except ValueError:
        sides = []
    if len(sides) not in (1, 2):
        raise ConfigError(f"--size {text} is not a size.", hint="Give HEIGHTxWIDTH, e.g. 28x28.")
    return (sides[0], sides[-1])


def _refuse_registered_twice(state_path: Path, data: Path) -> None:
    """The same rows as a second asset would be counted, and paid, twice. A folder's
    content is its files' relative paths and bytes."""
    from dain.data import content_digest
    from dain.node import NodeState

    content = content_digest(data)
    for stored in NodeState(state_path).assets():
        same_path = stored.csv_path == data.resolve()
        try:
            same_rows = content_digest(stored.csv_path) == content
        except OSError:
            same_rows = False
        if same_path or same_rows:
            raise ConfigError(
                f"{data} is already registered here as asset "
                f"{format_asset_id(stored.asset_id)} ({stored.title})"
                + ("" if same_path else f", from {stored.csv_path}") + ".",
                hint="Change its terms with 'dain consent update'; one set of rows is one "
                "asset, so that no use of it is counted (or paid) twice.",
            )


@app.command("list")
def list_assets(home: NodeHomeOption = None, as_json: JsonFlag = False) -> None:
    """This node's assets: title, file, rows, and consent as the chain holds it now."""
    from rich.table import Table

    from dain.cli.node_access import read_ledger
    from dain.ledger import format_dain
    from dain.node import NodeState

    ledger, where = read_ledger(home)
    state = NodeState(where.state)
    now = ledger.now()
    rows = []
    for stored in state.assets():
        on_chain = ledger.assets.policy(stored.asset_id)
        terms = on_chain.policy
        status = (
            "revoked"
            if on_chain.revoked
            else "expired"
            if terms.expiry and terms.expiry <= now
            else "live"
        )
        rows.append(
            {
                "asset_id": f"0x{stored.asset_id:064x}",
                "title": stored.title,
                "file": str(stored.csv_path),
                "rows": ledger.assets.rows(stored.asset_id),
                "owner": on_chain.owner,
                "consent": status,
                "policy_version": on_chain.version,
                "purposes": list(terms.purposes),
                "price_per_round": format_dain(terms.price_per_round),
            }
        )
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("asset", "title", "rows", "consent", "purposes", "price/round", "file")
    for row in rows:
        table.add_row(
            row["asset_id"][:18] + "…",
            row["title"],
            str(row["rows"]),
            f"{row['consent']} (v{row['policy_version']})",
            ", ".join(row["purposes"]),
            row["price_per_round"],
            row["file"],
        )
    console.print(table if rows else "No assets yet: register one with 'dain data register'.")


@app.command()
def find(
    purpose: Annotated[str, typer.Option(help="The purpose your job would train for.")],
    home: NodeHomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Assets on the network whose live policy allows a purpose: rows, price, owner, terms.
    How a requester finds data before proposing a job."""
    from rich.table import Table

    from dain.cli.node_access import read_ledger
    from dain.ledger import Consent, format_dain

    ledger, _ = read_ledger(home)
    seen = sorted({p.asset_id for p in ledger.assets.policies_set()})
    found = []
    for asset_id in seen:
        if ledger.assets.consent_for(asset_id, purpose) is not Consent.ALLOWED:
            continue
        on_chain = ledger.assets.policy(asset_id)
        terms = on_chain.policy
        found.append(
            {
                "asset_id": f"0x{asset_id:064x}",
                "owner": on_chain.owner,
                "rows": ledger.assets.rows(asset_id),
                "price_per_round": format_dain(terms.price_per_round),
                "min_participants": terms.min_participants,
                "max_epsilon": terms.max_epsilon,
                "secure_aggregation_required": terms.secure_aggregation,
                "requesters_only": list(terms.allowed_requesters),
                "expiry": terms.expiry,
                "manifest_cid": ledger.assets.manifest_cid(asset_id),
            }
        )
    if as_json:
        print(json.dumps(found))
        return
    table = Table("asset", "owner", "rows", "price/round", "conditions")
    for row in found:
        conditions = [
            f"epsilon <= {row['max_epsilon']}" if row["max_epsilon"] else "",
            "secure aggregation" if row["secure_aggregation_required"] else "",
            f">= {row['min_participants']} participants" if row["min_participants"] else "",
            "named requesters only" if row["requesters_only"] else "",
        ]
        table.add_row(
            row["asset_id"][:18] + "…",
            row["owner"][:10],
            str(row["rows"]),
            row["price_per_round"],
            ", ".join(c for c in conditions if c) or "-",
        )
    console.print(table if found else f"No asset's live policy allows '{purpose}'.")


@app.command()
def sample(
    name: Annotated[str, typer.Argument(
        help="A bundled dataset (breast_cancer, digits, wine, iris, diabetes) or a use case "
        "(imaging, smart_city, fraud).")],
    out: Annotated[Path, typer.Option(help="Folder to write the files in.")],
    parts: Annotated[int, typer.Option(help="How many owners' shares (stratified).", min=1)] = 1,
    seed: Annotated[int, typer.Option(help="Which split.")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Write a bundled public dataset as CSV files, split into owners' shares: data to try
    dain with (a walkthrough's hospitals, a requester's evaluation rows). A use case also
    writes its job file (job.toml), ready for 'dain job propose', and the requester's
    held-out data beside it."""
    import csv

    import numpy as np

    from dain.data import USE_CASES, load_bundled, partition_stratified

    if name in USE_CASES:
        _sample_use_case(name, out, parts, seed, as_json)
        return

    data = load_bundled(name)
    if parts > len(data.y) // 10:
        raise ConfigError(f"{name} has {len(data.y)} rows: too few for {parts} shares of 10+.")
    shares = partition_stratified(data.y, np.full(parts, 1 / parts), seed)
    out.mkdir(parents=True, exist_ok=True)
    target = data.target or "target"
    written = []
    for number, rows in enumerate(shares, start=1):
        path = out / f"{name}-{number}.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([*data.feature_names, target])
            for row, label in zip(data.x[rows], data.y[rows], strict=True):
                value = data.classes[int(label)] if data.classes else f"{label:.6g}"
                writer.writerow([*(f"{v:.6g}" for v in row), value])
        written.append({"file": str(path), "rows": len(rows)})
    emit(as_json, {"target": target, "files": written},
         lambda: console.print(f"Wrote {len(written)} file(s) to {out} (target column "
                               f"'{target}')."))  # fmt: skip


def _sample_use_case(name: str, out: Path, owners: int, seed: int, as_json: bool) -> None:
    from dain.node import load_job_file, write_use_case

    job, data = write_use_case(name, out, owners, seed)
    plan = load_job_file(job)
    target = "" if plan.schema.kind == "image" else f" --target {plan.schema.target}"
    register = f"dain data register {data.owners[0]}{target} --purpose {plan.purpose}"
    found = {"job_file": str(job), "owners": [str(p) for p in data.owners],
             "evaluation": str(data.test), "register": register}  # fmt: skip
    emit(as_json, found, lambda: console.print(
        f"Wrote the {name} use case to {out}: its job file {job.name}, {len(data.owners)} "
        f"owners' data ({', '.join(p.name for p in data.owners)}) and the requester's "
        f"held-out {data.test.name}.\nEach owner registers its share, e.g. '{register}'; "
        f"then the requester proposes the job with 'dain job propose {job}'."))
