"""What an audit is asked about, checked on chain before the trail is read: the contracts
answer an unknown job with an empty one, and an unknown asset with a bare revert. Shared by
`dain audit` and the dashboard, which each name their own way out (`hint`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dain.data import format_asset_id
from dain.ledger.errors import LedgerError, TransactionRefused

if TYPE_CHECKING:
    from dain.ledger.client import Ledger


class UnknownSubject(LedgerError):
    """A well-formed job or asset id that names nothing on this network."""


def check_job(ledger: Ledger, job_id: int, hint: str) -> None:
    """Refuses an id no job has, naming the ids that exist."""
    count = ledger.jobs.count()
    if not 1 <= job_id <= count:
        raise UnknownSubject(
            f"There is no job {job_id} on this network"
            + (f": jobs run from 1 to {count}." if count else ": no job was ever proposed."),
            hint=hint,
        )


def check_asset(ledger: Ledger, asset_id: int, hint: str) -> None:
    """Refuses an asset id no token has (its owner is the one read that reverts)."""
    try:
        ledger.assets.owner_of(asset_id)
    except TransactionRefused as exc:
        raise UnknownSubject(
            f"There is no data asset {format_asset_id(asset_id)} on this network.", hint=hint
        ) from exc
