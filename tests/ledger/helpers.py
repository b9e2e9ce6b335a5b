"""Receipts and round records as the aggregator would build them."""

from __future__ import annotations

import hashlib

from dain.ledger import Ledger, Receipt


def receipt(signer: Ledger, job_id: int, round: int, asset_id: int, examples: int = 10) -> Receipt:
    update_hash = hashlib.sha256(f"update/{job_id}/{round}/{asset_id}".encode()).digest()
    return Receipt(job_id, round, asset_id, examples, update_hash).signed_by(
        signer.identity, signer.chain_id, signer.jobs.address
    )


def aggregator(members: list[Ledger], job_id: int, round: int) -> Ledger:
    address = members[0].jobs.aggregator_of(job_id, round)
    return next(m for m in members if m.address == address)
