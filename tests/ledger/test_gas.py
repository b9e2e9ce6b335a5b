"""Gas is deterministic, so its budget is a test: each receipt in a round record costs at
most 25,000 gas beyond the record's base cost (bench/gas.py measures 1, 10 and 50)."""

from __future__ import annotations

import pytest

from tests.conftest import ChainNet
from tests.ledger.helpers import aggregator, receipt


@pytest.mark.parametrize("chain", ["embedded"], indirect=True)
def test_each_receipt_costs_at_most_25k_gas(chain_net: ChainNet) -> None:
    requester = chain_net.member(5_000)
    small = [chain_net.member(0)]
    large = [chain_net.member(0) for _ in range(6)]
    gas = {}
    for owners in (small, large):
        job_id, assets = chain_net.running_job(requester, owners, rounds=3)
        for rnd in (1, 2):
            agg = aggregator(owners, job_id, rnd)
            sent = agg.jobs.record_round(
                job_id, rnd, "bafkrei-model", b"\1" * 32,
                [receipt(o, job_id, rnd, a) for o, a in zip(owners, assets, strict=True)],
            )  # fmt: skip
        gas[len(owners)] = sent.gas_used  # the steady-state round

    per_receipt = (gas[6] - gas[1]) / 5
    assert per_receipt <= 25_000, per_receipt
