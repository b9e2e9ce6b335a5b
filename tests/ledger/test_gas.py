"""Gas is deterministic, so its budget is a test: each receipt in a round record (with the
aggregator's values) costs at most 25,000 gas beyond the record's base cost, and a record
with as many receipts as a job may have, settling that job and each claim fit well inside a
30M-gas block (bench/gas.py measures 1, 10, 50 and the cap of 256)."""

from __future__ import annotations

import pytest

from dain.ledger import Ledger, Sent
from tests.conftest import ChainNet
from tests.ledger.helpers import aggregator, receipt

BLOCK = 30_000_000
WELL_INSIDE = BLOCK // 3  # room for everyone else's transactions in the same block


def _record(owners: list[Ledger], job_id: int, rnd: int, assets: list[int]) -> Sent:
    agg = aggregator(owners, job_id, rnd)
    return agg.jobs.record_round(
        job_id, rnd, "bafkrei-model", b"\1" * 32,
        [receipt(o, job_id, rnd, a) for o, a in zip(owners, assets, strict=True)],
        values={a: 900 for a in assets},
    )  # fmt: skip


def _job(chain_net: ChainNet, requester: Ledger, owners: list[Ledger], per_owner: int,
         cap: int = 100) -> tuple[int, list[Ledger], list[int]]:  # fmt: skip
    """A started two-round job in which each owner enrolled `per_owner` assets:
    (job, each asset's owner, assets)."""
    job_id = chain_net.propose(requester, 100, rounds=2, max_assets=cap)
    chain_net.approve_job(job_id, [requester])
    holders, assets = [], []
    for _ in range(per_owner):
        for owner in owners:
            assets.append(chain_net.asset(owner))
            owner.jobs.enroll(job_id, assets[-1])
            holders.append(owner)
    requester.jobs.start(job_id)
    return job_id, holders, assets


@pytest.mark.parametrize("chain", ["embedded"], indirect=True)
def test_each_receipt_costs_at_most_25k_gas(chain_net: ChainNet) -> None:
    requester = chain_net.member(5_000)
    gas = {}
    small, large = [chain_net.member(0)], [chain_net.member(0) for _ in range(6)]
    for owners, per_owner in ((small, 1), (large, 8)):
        job_id, holders, assets = _job(chain_net, requester, owners, per_owner)
        for rnd in (1, 2):
            sent = _record(holders, job_id, rnd, assets)
        gas[len(assets)] = sent.gas_used  # the steady-state round

    # 48 receipts, 40 of them valued (not the aggregator's own): their credits take two slots
    per_receipt = (gas[48] - gas[1]) / 47
    assert per_receipt <= 25_000, per_receipt


@pytest.mark.slow
@pytest.mark.parametrize("chain", ["embedded"], indirect=True)
def test_a_job_at_its_cap_records_settles_and_pays_well_inside_a_block(
    chain_net: ChainNet,
) -> None:
    requester = chain_net.member(5_000)
    cap = requester.jobs.max_assets_per_job()
    owners = [chain_net.member(0) for _ in range(8)]  # each holds many assets: fewer members
    job_id, holders, assets = _job(chain_net, requester, owners, cap // 8, cap)

    records = [_record(holders, job_id, rnd, assets).gas_used for rnd in (1, 2)]
    owners[0].jobs.complete(job_id)
    settle, settles = owners[0].contracts.jobs.functions.settle, []
    while owners[0].jobs.settlement_left(job_id):
        settles.append(owners[0].caller.send("settle", settle(job_id, 1)).gas_used)
    claim = holders[0].caller.send(
        "claim", holders[0].contracts.jobs.functions.claim(job_id, assets[0])
    ).gas_used

    assert len(assets) == cap == 256
    assert max(records) < WELL_INSIDE, records
    assert max(settles) < WELL_INSIDE, settles
    assert claim < 200_000
    assert requester.jobs.settlement(job_id).done
