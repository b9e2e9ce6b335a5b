"""Each event is decoded in one place: read from a transaction's receipt or searched for in
the chain's logs, the same event gives the same dataclass, on both backends."""

from __future__ import annotations

from dain.ledger import TOKEN_UNIT, DataUsed, JobProposed, RewardPaid
from tests.conftest import ChainNet
from tests.ledger.helpers import aggregator, receipt


def test_data_used_from_a_receipt_equals_data_used_from_the_logs(chain_net: ChainNet) -> None:
    requester, a, b = chain_net.member(5_000), chain_net.member(), chain_net.member()
    job_id, (asset_a, asset_b) = chain_net.running_job(requester, [a, b], rounds=2)
    agg = aggregator([a, b], job_id, 1)

    sent = agg.jobs.record_round(
        job_id, 1, "bafkrei-m1", b"\x03" * 32,
        [receipt(a, job_id, 1, asset_a, 11), receipt(b, job_id, 1, asset_b, 22)],
    )  # fmt: skip

    from_receipt = agg.jobs.data_used_in(sent)
    from_logs = requester.jobs.data_used(job_id=job_id)
    assert from_receipt == from_logs
    assert all(isinstance(use, DataUsed) for use in from_logs)
    assert {(u.asset_id, u.num_examples) for u in from_logs} == {(asset_a, 11), (asset_b, 22)}
    assert {u.tx_hash for u in from_logs} == {sent.tx_hash}


def test_a_proposal_from_its_receipt_equals_the_one_rebuilt_from_logs(
    chain_net: ChainNet,
) -> None:
    requester = chain_net.member(100)
    job_id = chain_net.propose(requester, 1)

    proposed = requester.gov.propose_job_approval(job_id)

    assert requester.gov.proposal(proposed.proposal_id) == proposed
    assert proposed.targets == (requester.jobs.address,)


def test_job_proposals_and_rewards_are_typed_events(chain_net: ChainNet) -> None:
    requester, owner = chain_net.member(5_000), chain_net.member()
    job_id, (asset,) = chain_net.running_job(requester, [owner], rounds=1, pool=10)
    agg = aggregator([owner], job_id, 1)
    agg.jobs.record_round(job_id, 1, "m", b"\1" * 32, [receipt(owner, job_id, 1, asset)])
    requester.jobs.complete(job_id)

    amount = owner.jobs.claim(job_id, asset)

    (paid,) = owner.jobs.rewards_paid(job_id)
    assert paid == RewardPaid(job_id, asset, owner.address, amount, paid.block_number)
    assert amount == 10 * TOKEN_UNIT
    assert owner.jobs.rewards_paid(owner=owner.address) == [paid]
    (proposed,) = owner.jobs.proposed_by(requester.address)
    assert proposed == JobProposed(
        job_id, requester.address, "diagnosis", 10 * TOKEN_UNIT, proposed.block_number,
        proposed.tx_hash,
    )
    assert proposed.tx_hash.startswith("0x") and len(proposed.tx_hash) == 66
