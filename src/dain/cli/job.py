"""`dain job ...`: a training job from proposal to the trained model, run from the
requester's (or a data owner's) node home."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from dain.cli.context import JsonFlag, Password, console, emit
from dain.cli.node import NodeHomeOption
from dain.cli.node_access import existing_job, read_ledger, signing_node
from dain.errors import ConfigError, DainError

app = typer.Typer(help="Propose, run and follow training jobs.", no_args_is_help=True)

JobId = Annotated[int, typer.Argument(help="The job's number (see 'dain job list').", min=1)]


@app.command()
def propose(
    job_file: Annotated[Path, typer.Argument(help="The job file (TOML).")],
    home: NodeHomeOption = None,
    password: Password = None,
    as_json: JsonFlag = False,
) -> None:
    """Propose a training job from a job file, and open the members' vote on it.

    The job file (TOML) names the terms, the model and where the evaluation data is:

    \b
        title = "Malignancy from cell nuclei"
        purpose = "diagnosis"
        rounds = 5
        round_duration = 600      # seconds each elected aggregator has
        pool = "50 DAIN"
        [model]
        kind = "mlp"
        hidden = [32]
        [privacy]
        level = "record"
        epsilon = 3.0
        [evaluation]              # stays on this machine
        csv = "holdout.csv"
        target = "diagnosis"

    Other settings: max_assets, min_participants, secure_aggregation, seed, description,
    [input] features/target/classes, [training] learning_rate/epochs/batch_size,
    [strategy] name/options, [privacy] delta/clip, [sampling] fraction (each asset's
    chance per round) or count (about that many assets a round).

    Fine-tuning starts from a pretrained model and trains part of it; only that part
    travels each round:

    \b
        [model]
        layers = [...]                  # the pretrained model's architecture
        base = "pretrained.safetensors" # or base_cid = "bafk..." (in this node's store)
        train = [9]                     # layers (from 0) or tensor names trained as is
        lora = { rank = 2, alpha = 2, layers = [0, 3, 7] }"""
    from dain.learning import update_size
    from dain.ledger import format_dain
    from dain.node import load_job_file

    plan = load_job_file(job_file)
    plan.evaluation_data()  # a broken evaluation file stops us before the chain
    node = signing_node(home, password)
    ledger = node.ledger
    balance = ledger.token.balance_of(ledger.address)
    if balance < plan.pool:
        raise ConfigError(
            f"The pool is {format_dain(plan.pool)} but {ledger.address} holds "
            f"{format_dain(balance)}.",
            hint="Lower the pool in the job file, or get DAIN first.",
        )
    # kept untagged: no job exists yet, and the chain will say whose spec and model they are
    spec_cid = node.blobs.put(plan.spec.to_bytes())
    model_cid = node.blobs.put(plan.first_model(node.blobs))
    job_id = ledger.propose_job(plan.terms(spec_cid, model_cid))
    description = f"Approve training job #{job_id}.\n{plan.description}\nSpec: {spec_cid}"
    proposal = ledger.gov.propose_job_approval(job_id, description)
    if plan.evaluation is not None:  # the node scores each round's model with it, locally
        node.set_evaluation(job_id, plan.evaluation.resolve(), plan.schema.target)
    data = {
        "job_id": job_id,
        "proposal_id": str(proposal.proposal_id),
        "spec_cid": spec_cid,
        "model_cid": model_cid,
        "pool": format_dain(plan.pool),
    }
    fine_tune = plan.spec.model.fine_tune
    size = update_size(plan.spec.model) if fine_tune is not None else None
    if size is not None and fine_tune is not None:
        data |= {"base_cid": fine_tune.base_cid, "update_bytes": size.update_bytes,
                 "model_bytes": size.full_bytes}  # fmt: skip

    def show() -> None:
        console.print(
            f"Proposed job {job_id} ({plan.spec.title}), {format_dain(plan.pool)} escrowed."
        )
        if size is not None and fine_tune is not None:
            console.print(f"Fine-tunes {fine_tune.base_cid}: {size.describe()}.")
        console.print(f"Members vote on proposal {proposal.proposal_id}:")
        console.print(f"  dain gov vote {proposal.proposal_id} for")
        console.print(
            f"Once approved, data owners enroll: dain job enroll {job_id} --asset ID; "
            f"then you start it: dain job start {job_id}"
        )

    emit(as_json, data, show)


@app.command("list")
def list_jobs(
    home: NodeHomeOption = None,
    mine: Annotated[bool, typer.Option(help="Only jobs this node proposed.")] = False,
    limit: Annotated[int, typer.Option(help="The newest this many.", min=1)] = 20,
    as_json: JsonFlag = False,
) -> None:
    """The jobs proposed on the network, newest first."""
    from dain.node import job_row

    ledger, where = read_ledger(home)
    if mine:
        address = _keystore_address(where.keystore)
        proposed = [p.job_id for p in ledger.jobs.proposed_by(address)]
    else:
        proposed = list(range(1, ledger.jobs.count() + 1))
    rows = [job_row(ledger.jobs.job(j)) for j in sorted(proposed, reverse=True)[:limit]]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("job", "purpose", "status", "round", "pool", "requester")
    for row in rows:
        table.add_row(
            str(row["job_id"]),
            row["purpose"],
            row["status"],
            f"{row['round']}/{row['rounds']}",
            row["pool"],
            row["requester"][:10],
        )
    console.print(table if rows else "No jobs yet.")


@app.command()
def show(job_id: JobId, home: NodeHomeOption = None, as_json: JsonFlag = False) -> None:
    """A job's terms, status, participants and rounds."""
    from dain.cli.job_view import print_details
    from dain.node import job_details

    ledger, where = read_ledger(home)
    details = job_details(ledger, existing_job(ledger, job_id))
    if as_json:
        print(json.dumps(details))
    else:
        print_details(details, where)


@app.command()
def watch(
    job_id: JobId,
    home: NodeHomeOption = None,
    until_done: Annotated[
        bool, typer.Option("--until-done", help="Exit when the job ends.")
    ] = False,
    interval: Annotated[float, typer.Option(help="Seconds between looks.", min=0.2)] = 1.0,
    as_json: JsonFlag = False,
) -> None:
    """Follow a job live: round, aggregator, participants, metrics, epsilon, deadline."""
    from dain.cli.job_view import watch_job

    ledger, where = read_ledger(home)
    existing_job(ledger, job_id)
    watch_job(ledger, where, job_id, until_done=until_done, interval=interval, as_json=as_json)


def _act(job_id: int, home: Path | None, password: str | None, as_json: bool, what: str) -> None:
    node = signing_node(home, password)
    ledger = node.ledger
    existing_job(ledger, job_id)
    getattr(ledger.jobs, what)(job_id)
    job = ledger.jobs.job(job_id)
    emit(
        as_json,
        {"job_id": job_id, "status": job.status.name.lower()},
        lambda: console.print(f"Job {job_id} is now {job.status.name.lower()}."),
    )


@app.command()
def start(
    job_id: JobId,
    home: NodeHomeOption = None,
    password: Password = None,
    as_json: JsonFlag = False,
) -> None:
    """Close enrollment and start training (the requester only)."""
    _act(job_id, home, password, as_json, "start")


@app.command()
def cancel(
    job_id: JobId,
    home: NodeHomeOption = None,
    password: Password = None,
    as_json: JsonFlag = False,
) -> None:
    """Withdraw a job before its last round; owners keep what the rounds done earned."""
    _act(job_id, home, password, as_json, "cancel")


@app.command()
def complete(
    job_id: JobId,
    home: NodeHomeOption = None,
    password: Password = None,
    as_json: JsonFlag = False,
) -> None:
    """Close a job whose last round is recorded, so owners can claim (anyone may)."""
    _act(job_id, home, password, as_json, "complete")


@app.command()
def enroll(
    job_id: JobId,
    asset: Annotated[str, typer.Option(help="The asset's id (see 'dain data list').")],
    home: NodeHomeOption = None,
    password: Password = None,
    as_json: JsonFlag = False,
) -> None:
    """Enroll one of this node's assets in an approved job."""
    from dain.cli.node_access import asset_of

    node = signing_node(home, password)
    job = existing_job(node.ledger, job_id)
    asset_id = asset_of(node, asset)
    misfit = node.trainer.misfit(job, node.assets[asset_id])  # reads the job's spec
    if misfit:
        raise ConfigError(f"Asset 0x{asset_id:064x} does not fit job {job_id}: {misfit}",
                          hint="Enroll an asset whose file has the job's columns and classes "
                          "('dain job show' names the spec).")
    node.enroll(job.job_id, asset_id)
    emit(
        as_json,
        {"job_id": job_id, "asset_id": f"0x{asset_id:064x}", "enrolled": True},
        lambda: console.print(f"Enrolled asset 0x{asset_id:064x} in job {job_id}."),
    )


@app.command()
def model(
    job_id: JobId,
    out: Annotated[Path, typer.Option(help="Where to write the model (safetensors).")],
    home: NodeHomeOption = None,
    password: Password = None,
    as_json: JsonFlag = False,
) -> None:
    """Fetch the job's current model, checked against its content id on chain."""
    from dain.node import BlobKind
    from dain.storage import verify

    node = signing_node(home, password)
    job = existing_job(node.ledger, job_id)
    data = node.models.blob(job.model_cid, job, BlobKind.MODEL)
    verify(job.model_cid, data)  # the store checks too: this is the promise kept
    out.write_bytes(data)
    info: dict[str, Any] = {
        "job_id": job_id,
        "round": job.current_round,
        "rounds": job.rounds,
        "model_cid": job.model_cid,
        "bytes": len(data),
        "out": str(out),
    }
    emit(
        as_json,
        info,
        lambda: console.print(
            f"Wrote the model of job {job_id} (round {job.current_round}/{job.rounds}) to {out} "
            f"({len(data):,} bytes, {job.model_cid})."
        ),
    )


def _keystore_address(keystore: Path) -> str:
    """The address a keystore names in the clear (no password needed to list one's jobs)."""
    try:
        named = json.loads(keystore.read_text())["address"]
        return "0x" + str(named).removeprefix("0x")
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigError(
            f"Cannot read the address in {keystore}.", hint="Check the node home's keystore.json."
        ) from None


@app.command()
def card(
    job_id: JobId,
    out: Annotated[
        Path | None, typer.Option(help="Folder for job-N-card.md and .json (default: here).")
    ] = None,
    verify: Annotated[
        Path | None,
        typer.Option(help="Check this card (its .json) against the chain and the blobs."),
    ] = None,
    home: NodeHomeOption = None,
    password: Password = None,
    as_json: JsonFlag = False,
) -> None:
    """Write the job's model card (Markdown in the Hugging Face layout, and JSON), or with
    --verify rebuild every field of a card from chain events and blobs and name any field
    that does not match (exit 1)."""
    from dain.node import BlobKind, BlobTag, build_card, card_differences, render_card, reports_blob
    from dain.storage import parse_json

    claimed = None
    if verify is not None:
        try:
            claimed = parse_json(verify.read_bytes(), max_bytes=64 * 2**20)
        except OSError as exc:
            raise ConfigError(f"Cannot read the card {verify}: {exc.strerror}.") from None
        except DainError as exc:
            raise ConfigError(
                f"{verify} is not a card's JSON: {exc.message}",
                hint="Give the .json file 'dain job card' wrote.",
            ) from None
        if not isinstance(claimed, dict) or claimed.get("job_id") != job_id:
            raise ConfigError(f"{verify} is not a card of job {job_id}.")
    node = signing_node(home, password)
    job = existing_job(node.ledger, job_id)
    holders = node.ctx.chain.holders(job)

    def fetch(cid: str) -> bytes:
        if node.ctx.blobs.has(cid):
            return node.ctx.blobs.get(cid)
        return node.fetch_blob(cid, holders, job_id)

    if claimed is not None:
        rebuilt = build_card(
            node.ledger, job_id, fetch, claimed.get("metrics", {}).get("reports_cid")
        )
        wrong = card_differences(claimed, rebuilt)
        if as_json:
            print(json.dumps({"job_id": job_id, "verified": not wrong, "mismatches": wrong}))
        elif wrong:
            console.print(f"[red]The card of job {job_id} does not match the chain:[/red]")
            for line in wrong:
                console.print(f"  {line}")
        else:
            console.print(f"Every field of {verify} matches the chain and the blobs.")
        if wrong:
            raise typer.Exit(1)
        return
    reports = [r.envelope for r in node.evaluation.store.reports(job_id)]
    reports_cid = None
    if reports:
        reports_cid = node.ctx.keep(
            reports_blob(reports), BlobTag(BlobKind.MODEL, job_id, job.current_round)
        )
    own = {m.round: m.requester.to_dict() for m in node.metrics(job_id) if m.requester}
    made = build_card(node.ledger, job_id, fetch, reports_cid, own)
    folder = out or Path.cwd()
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / f"job-{job_id}-card.json", folder / f"job-{job_id}-card.md"
    json_path.write_text(json.dumps(made, indent=2) + "\n")
    md_path.write_text(render_card(made))
    emit(
        as_json,
        {"json": str(json_path), "markdown": str(md_path), "card": made},
        lambda: console.print(
            f"Wrote {md_path} and {json_path}; check them with "
            f"'dain job card {job_id} --verify {json_path}'."
        ),
    )
