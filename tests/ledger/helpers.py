"""Receipts and round records as the aggregator would build them."""

from __future__ import annotations

import hashlib

from dain.ledger import Ledger, Receipt, round_epsilon_to_chain


def receipt(
    signer: Ledger, job_id: int, round: int, asset_id: int, examples: int = 10, *,
    epsilon: float = 0.0,
) -> Receipt:  # fmt: skip
    """`signer`'s receipt for the asset's update; `epsilon` is the round's privacy loss as
    the signer's accountant counts it."""
    update_hash = hashlib.sha256(f"update/{job_id}/{round}/{asset_id}".encode()).digest()
    unsigned = Receipt(job_id, round, asset_id, examples, update_hash,
                       epsilon=round_epsilon_to_chain(epsilon))  # fmt: skip
    return unsigned.signed_by(signer.identity, signer.chain_id, signer.jobs.address)


def aggregator(members: list[Ledger], job_id: int, round: int) -> Ledger:
    address = members[0].jobs.aggregator_of(job_id, round)
    return next(m for m in members if m.address == address)
