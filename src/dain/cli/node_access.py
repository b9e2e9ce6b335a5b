"""What `dain job` and `dain data` commands need from a node's home: a ledger to read, the
node to sign with, and ids checked against what exists."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dain.cli.context import key_password
from dain.cli.node import node_home
from dain.errors import ConfigError

if TYPE_CHECKING:
    from dain.ledger import JobInfo, Ledger
    from dain.node import Node, NodeHome


def read_ledger(home: Path | None) -> tuple[Ledger, NodeHome]:
    """A ledger client for reading only: no key, no password."""
    from dain.identity import Identity
    from dain.ledger import Deployment, Ledger, RpcChain

    where = node_home(home)
    config = where.config()
    deployment = Path(config.deployment)
    if not deployment.exists():
        raise ConfigError(
            f"The node's deployment record {deployment} is missing.",
            hint="Set 'deployment' in node.toml to the network's deployment.json.",
        )
    return Ledger(RpcChain(config.rpc), Deployment.load(deployment), Identity.create()), where


def signing_node(home: Path | None, password: str | None) -> Node:
    """The home's node (not serving): its key signs, its blob store keeps what it makes."""
    from dain.node import open_node

    where = node_home(home)
    where.config()  # a missing or broken home is reported before a password is asked for
    node, _ = open_node(where, key_password(password, where.keystore))
    return node


def existing_job(ledger: Ledger, job_id: int) -> JobInfo:
    count = ledger.jobs.count()
    if job_id > count:
        raise ConfigError(
            f"There is no job {job_id}: {count} job(s) were proposed on this network.",
            hint="See 'dain job list'.",
        )
    return ledger.jobs.job(job_id)


def asset_of(node: Node, text: str) -> int:
    """One of the node's own assets by the id a person typed: whole (with or without 0x and
    leading zeros) or a unique prefix of at least 8 hex digits, as `data list` shows them."""
    from dain.cli.context import parse_asset_id

    mine = sorted(node.assets)
    digits = text.lower().removeprefix("0x")
    if len(digits) < 64 and all(c in "0123456789abcdef" for c in digits):
        matches = [a for a in mine if f"{a:064x}".startswith(digits) or f"{a:x}" == digits]
        if len(matches) == 1 and len(digits) >= 8:
            return matches[0]
    asset_id = parse_asset_id(text, mine)  # a piece of one: the hint names it
    if asset_id in node.assets:
        return asset_id
    listed = ", ".join(f"0x{a:064x}" for a in mine[:5]) or "none registered"
    raise ConfigError(
        f"This node holds no asset {text}.", hint=f"Its assets ('dain data list'): {listed}."
    )
