"""What the "Audit" page shows: a subject read from what a person typed (an asset id, a job
number or an address), checked on chain, and its trail from the same `Auditor` that
`dain audit` prints, laid out as the rows of the page's tables. Plain data, no HTML, so
it can be checked against the CLI."""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dain.data import format_asset_id, parse_asset_id
from dain.errors import ConfigError, DainError
from dain.identity import parse_address
from dain.ledger import Auditor, check_asset, check_job, format_dain
from dain.web.owner_view import owned_assets, when

if TYPE_CHECKING:
    from dain.ledger import AssetTrail, JobTrail, MemberTrail
    from dain.node import Node

KINDS = ("asset", "job", "member")
MAX_INPUT = 100  # an address is 42 characters, an asset id 66, a decimal token id 78
JOB_HINT = "Type a job number, e.g. 1; the jobs a member requested are on their trail."
ASSET_HINT = "The node's own assets are linked on the Audit page; 'dain data list' shows them too."


@dataclass(frozen=True)
class Subject:
    """What an audit is about, in the form the page's address writes it."""

    kind: str  # asset, job or member
    key: str  # 0x and 64 hex digits, a job number, a checksummed address
    value: int | str

    @property
    def path(self) -> str:
        return f"/audit/{self.kind}/{self.key}"

    @property
    def filename(self) -> str:
        return f"dain-audit-{self.kind}-{self.key}"


def parse_subject(node: Node, kind: str, text: str) -> Subject:
    """The subject `text` names, or a ConfigError saying what is wrong and what to type."""
    text = text.strip()
    if len(text) > MAX_INPUT:
        raise ConfigError(f"That {kind} is {len(text)} characters long: too long to be one.",
                          hint=_form(kind))  # fmt: skip
    if kind == "asset":
        asset_id = _asset_id(node, text)
        return Subject(kind, format_asset_id(asset_id), asset_id)
    if kind == "job":
        if not text.isascii() or not text.isdigit():
            raise ConfigError(f"'{text}' is not a job number.", hint=JOB_HINT)
        return Subject(kind, str(int(text)), int(text))
    address = parse_address(text, "a member's address")
    return Subject(kind, address, address)


def _asset_id(node: Node, text: str) -> int:
    """As the CLI reads it, except a hex id short of 64 digits: the CLI takes it as one
    whose leading zeros were dropped, but on a page it is most likely cut off."""
    digits = text[2:] if text[:2].lower() == "0x" else text
    if digits and len(digits) < 64 and all(c in string.hexdigits for c in digits):
        near = [f for f in map(format_asset_id, owned_assets(node)) if digits.lower() in f]
        raise ConfigError(
            f"'{text}' is not a whole asset id: it has {len(digits)} of 64 hex digits.",
            hint=_form("asset") + (f" Did you mean {' or '.join(near[:3])}?" if near else ""),
        )
    try:
        return parse_asset_id(text)
    except DainError:  # again, naming the node's own assets it may be a piece of
        return parse_asset_id(text, owned_assets(node))


def _form(kind: str) -> str:
    return {
        "asset": "An asset id is 0x followed by 64 hex digits, as 'dain data list' prints it.",
        "job": "A job is a number, e.g. 1.",
        "member": "An address is 0x followed by 40 hex digits.",
    }[kind]


def read_trail(node: Node, subject: Subject) -> AssetTrail | JobTrail | MemberTrail:
    """The subject's trail; an asset or job the chain does not know is refused first."""
    ledger = node.ledger
    auditor = Auditor(ledger)
    if subject.kind == "asset":
        check_asset(ledger, int(subject.value), ASSET_HINT)
        return auditor.asset(int(subject.value))
    if subject.kind == "job":
        check_job(ledger, int(subject.value), JOB_HINT)
        return auditor.job(int(subject.value))
    return auditor.member(str(subject.value))


@dataclass(frozen=True)
class QuickLinks:
    assets: list[str]  # the node's own, 0x hex
    requested: list[int]  # jobs the node requested
    took_part: list[int]  # jobs its assets enrolled in


def quick_links(node: Node) -> QuickLinks:
    jobs = node.ledger.jobs
    mine = owned_assets(node)
    requested = sorted({p.job_id for p in jobs.proposed_by(node.address)})
    took_part = sorted({e.job_id for e in jobs.enrollments(mine)}) if mine else []
    return QuickLinks([format_asset_id(a) for a in mine], requested, took_part)


def asset_tables(trail: AssetTrail) -> dict[str, list[list[str]]]:
    """The asset page's tables, each a list of rows (header excluded)."""
    return {
        "summary": [
            ["asset", format_asset_id(trail.asset_id)],
            ["owner", trail.owner],
            ["paid", format_dain(sum(p.amount for p in trail.paid))],
            ["waiting to be claimed", format_dain(sum(trail.owed.values()))],
        ],
        "policy": [
            [
                str(v["version"]),
                "revoked" if v.get("revoked") else f"terms {v['policy_cid']}",
                str(v["block"]),
            ]
            for v in trail.policy_versions
        ],
        "uses": [
            [
                when(u.timestamp),
                str(u.job_id),
                u.requester,
                str(u.round),
                u.purpose,
                str(u.policy_version),
                str(u.num_examples),
                str(u.block),
                u.tx_hash,
            ]
            for u in trail.uses
        ],
        "paid": [[str(p.job_id), p.owner, format_dain(p.amount), str(p.block)] for p in trail.paid],
        "owed": [[str(job), format_dain(owed)] for job, owed in trail.owed.items()],
    }


def job_tables(trail: JobTrail) -> dict[str, list[list[str]]]:
    return {
        "summary": [
            ["job", str(trail.job_id)],
            ["status", trail.status],
            ["purpose", trail.purpose],
            ["requester", trail.requester],
            ["paid", format_dain(sum(p.amount for p in trail.paid))],
            ["refunded to the requester", format_dain(trail.refunded)],
        ],
        "rounds": [
            [
                str(r["round"]),
                r["model_cid"],
                r["aggregator"],
                str(r["participants"]),
                f"{r['epsilon']:g}",
                str(r["block"]),
            ]
            for r in trail.rounds
        ],
        "uses": [
            [
                str(u["round"]),
                format_asset_id(u["asset_id"]),
                u["owner"],
                str(u["policy_version"]),
                str(u["num_examples"]),
                str(u["block"]),
            ]
            for u in trail.uses
        ],
        "paid": [
            [format_asset_id(p.asset_id), p.owner, format_dain(p.amount), str(p.block)]
            for p in trail.paid
        ],
    }


def member_tables(trail: MemberTrail) -> dict[str, list[list[str]]]:
    return {
        "summary": [
            ["address", trail.address],
            ["DID", trail.did or "-"],
            ["admitted", "yes" if trail.admitted else "no"],
            ["uses of their data", str(trail.uses_of_their_data)],
            ["rewards received", format_dain(trail.rewards_received)],
            *([k.replace("_", " "), str(v)] for k, v in trail.reputation.items()),
        ],
        "assets": [[format_asset_id(a)] for a in trail.assets],
        "jobs": [[str(j)] for j in trail.jobs_requested],
    }
