"""Contract rules of the job lifecycle, on the embedded chain: every refusal named in the
design, and the happy path from proposal to reward claims."""

from __future__ import annotations

import dataclasses

import pytest

from dain.incentives import split_pool
from dain.ledger import TOKEN_UNIT, JobStatus, Receipt, TransactionRefused
from tests.conftest import ChainNet
from tests.ledger.helpers import aggregator, receipt


def test_full_job_pays_the_whole_pool_by_weights(chain_net: ChainNet) -> None:
    requester, a, b = chain_net.member(5_000), chain_net.member(), chain_net.member()
    job_id, (asset_a, asset_b) = chain_net.running_job(requester, [a, b], rounds=2, pool=100)
    members = [a, b]
    for rnd in (1, 2):
        agg = aggregator(members, job_id, rnd)
        agg.jobs.record_round(
            job_id,
            rnd,
            f"bafkrei-model-{rnd}",
            b"\x01" * 32,
            [receipt(a, job_id, rnd, asset_a), receipt(b, job_id, rnd, asset_b)],
        )
    requester.jobs.complete(job_id, {asset_a: 1, asset_b: 2})

    before = a.token.balance_of(a.address), b.token.balance_of(b.address)
    paid_a, paid_b = a.jobs.claim(job_id, asset_a), b.jobs.claim(job_id, asset_b)

    assert paid_a + paid_b == 100 * TOKEN_UNIT
    # the contract and dain.incentives agree to the base unit, rounding remainder included
    assert {asset_a: paid_a, asset_b: paid_b} == split_pool(
        100 * TOKEN_UNIT, {asset_a: 1, asset_b: 2}
    )
    assert a.token.balance_of(a.address) == before[0] + paid_a
    assert b.token.balance_of(b.address) == before[1] + paid_b
    assert a.jobs.job(job_id).status == JobStatus.COMPLETED
    assert a.token.balance_of(a.jobs.address) == 0


def test_data_used_events_are_the_audit_trail(chain_net: ChainNet) -> None:
    requester, a = chain_net.member(5_000), chain_net.member()
    job_id, (asset,) = chain_net.running_job(requester, [a], rounds=2)
    sent = a.jobs.record_round(
        job_id, 1, "bafkrei-m1", b"\x02" * 32, [receipt(a, job_id, 1, asset, 42)]
    )

    (event,) = a.jobs.data_used(asset_id=asset)

    assert (event.job_id, event.asset_id, event.owner, event.round) == (job_id, asset, a.address, 1)
    assert (event.purpose, event.num_examples, event.policy_version) == ("diagnosis", 42, 1)
    assert event.block_number == sent.block_number
    record = a.jobs.round_record(job_id, 1)
    assert (record.model_cid, record.participants, record.aggregator) == (
        "bafkrei-m1",
        1,
        a.address,
    )


def test_forged_receipt_is_refused(chain_net: ChainNet) -> None:
    requester, a, mallory = chain_net.member(5_000), chain_net.member(), chain_net.member()
    job_id, (asset,) = chain_net.running_job(requester, [a])

    with pytest.raises(TransactionRefused) as refused:
        a.jobs.record_round(job_id, 1, "m", b"\0" * 32, [receipt(mallory, job_id, 1, asset)])

    assert refused.value.reason == "InvalidReceiptSignature"
    assert a.jobs.data_used(job_id=job_id) == []


def test_tampered_receipt_fields_are_refused(chain_net: ChainNet) -> None:
    requester, a = chain_net.member(5_000), chain_net.member()
    job_id, (asset,) = chain_net.running_job(requester, [a])
    inflated = dataclasses.replace(receipt(a, job_id, 1, asset, examples=10), num_examples=10_000)

    with pytest.raises(TransactionRefused) as refused:
        a.jobs.record_round(job_id, 1, "m", b"\0" * 32, [inflated])

    assert refused.value.reason == "InvalidReceiptSignature"


def test_receipt_replayed_from_another_round_is_refused(chain_net: ChainNet) -> None:
    requester, a = chain_net.member(5_000), chain_net.member()
    job_id, (asset,) = chain_net.running_job(requester, [a])
    first = receipt(a, job_id, 1, asset)
    a.jobs.record_round(job_id, 1, "m1", b"\0" * 32, [first])

    with pytest.raises(TransactionRefused) as refused:
        a.jobs.record_round(job_id, 2, "m2", b"\0" * 32, [first])

    assert refused.value.reason == "InvalidReceiptSignature"


def test_receipt_replayed_from_another_job_is_refused(chain_net: ChainNet) -> None:
    requester, a = chain_net.member(5_000), chain_net.member()
    job_1, (asset,) = chain_net.running_job(requester, [a])
    job_2 = requester.jobs.propose("diagnosis", 3, TOKEN_UNIT, "s", "m")
    chain_net.approve_job(job_2, [requester, a])
    a.jobs.enroll(job_2, asset)
    requester.jobs.start(job_2)

    with pytest.raises(TransactionRefused) as refused:
        a.jobs.record_round(job_2, 1, "m", b"\0" * 32, [receipt(a, job_1, 1, asset)])

    assert refused.value.reason == "InvalidReceiptSignature"


def test_receipt_for_another_chain_or_contract_is_refused(chain_net: ChainNet) -> None:
    requester, a = chain_net.member(5_000), chain_net.member()
    job_id, (asset,) = chain_net.running_job(requester, [a])
    plain = Receipt(job_id, 1, asset, 10, b"\x07" * 32)
    other_chain = plain.signed_by(a.identity, a.chain_id + 1, a.jobs.address)
    other_contract = plain.signed_by(a.identity, a.chain_id, a.deployment.assets)

    for bad in (other_chain, other_contract):
        with pytest.raises(TransactionRefused) as refused:
            a.jobs.record_round(job_id, 1, "m", b"\0" * 32, [bad])
        assert refused.value.reason == "InvalidReceiptSignature"


def test_receipt_after_revocation_is_refused(chain_net: ChainNet) -> None:
    requester, a, b = chain_net.member(5_000), chain_net.member(), chain_net.member()
    job_id, (asset_a, asset_b) = chain_net.running_job(requester, [a, b])
    a.assets.revoke(asset_a)
    agg = aggregator([a, b], job_id, 1)

    with pytest.raises(TransactionRefused) as refused:
        agg.jobs.record_round(
            job_id,
            1,
            "m",
            b"\0" * 32,
            [receipt(a, job_id, 1, asset_a), receipt(b, job_id, 1, asset_b)],
        )

    assert refused.value.reason == "ConsentRefused"
    assert "revoked" in refused.value.message
    assert agg.address == b.address  # a revoked owner is never elected


def test_receipt_after_expiry_is_refused(chain_net: ChainNet) -> None:
    requester, a, b = chain_net.member(5_000), chain_net.member(), chain_net.member()
    job_id = requester.jobs.propose("diagnosis", 2, TOKEN_UNIT, "s", "m")
    chain_net.approve_job(job_id, [requester, a, b])
    expiring = chain_net.asset(a, expiry=chain_net.chain.now() + 3_600)
    lasting = chain_net.asset(b)
    a.jobs.enroll(job_id, expiring)
    b.jobs.enroll(job_id, lasting)
    requester.jobs.start(job_id)
    chain_net.chain.advance_time(7_200)
    assert a.assets.consent_for(expiring, "diagnosis") == "expired"

    elected = aggregator([a, b], job_id, 1)
    with pytest.raises(TransactionRefused) as refused:
        elected.jobs.record_round(
            job_id,
            1,
            "m",
            b"\0" * 32,
            [receipt(a, job_id, 1, expiring), receipt(b, job_id, 1, lasting)],
        )

    assert elected is b  # an owner whose consent expired is not elected either
    assert refused.value.reason == "ConsentRefused" and "expired" in refused.value.message


def test_enrollment_refused_for_a_purpose_the_policy_does_not_allow(chain_net: ChainNet) -> None:
    requester, a = chain_net.member(5_000), chain_net.member()
    job_id = requester.jobs.propose("diagnosis", 2, TOKEN_UNIT, "s", "m")
    chain_net.approve_job(job_id, [requester, a])
    asset = chain_net.asset(a, purposes=("marketing",))

    with pytest.raises(TransactionRefused) as refused:
        a.jobs.enroll(job_id, asset)

    assert refused.value.reason == "ConsentRefused"
    assert "not allowed for this purpose" in str(refused.value)
    assert a.jobs.enrolled(job_id) == []


def test_job_cannot_run_without_approval(chain_net: ChainNet) -> None:
    requester, a = chain_net.member(5_000), chain_net.member()
    job_id = requester.jobs.propose("diagnosis", 2, TOKEN_UNIT, "s", "m")
    asset = chain_net.asset(a)

    with pytest.raises(TransactionRefused) as enroll:
        a.jobs.enroll(job_id, asset)
    with pytest.raises(TransactionRefused) as start:
        requester.jobs.start(job_id)
    with pytest.raises(TransactionRefused) as record:
        a.jobs.record_round(job_id, 1, "m", b"\0" * 32, [receipt(a, job_id, 1, asset)])

    assert {enroll.value.reason, start.value.reason, record.value.reason} == {"WrongStatus"}
    assert "proposed" in enroll.value.message


def test_only_the_governor_approves(chain_net: ChainNet) -> None:
    requester = chain_net.member(5_000)
    job_id = requester.jobs.propose("diagnosis", 2, TOKEN_UNIT, "s", "m")
    call = requester.contracts.jobs.functions.approve(job_id)

    with pytest.raises(TransactionRefused) as refused:
        requester.sender.send("approve", call)

    assert refused.value.reason == "NotGovernor"


def test_only_the_elected_aggregator_records_a_round(chain_net: ChainNet) -> None:
    requester, a, b = chain_net.member(5_000), chain_net.member(), chain_net.member()
    job_id, (asset_a, _) = chain_net.running_job(requester, [a, b])
    elected = aggregator([a, b], job_id, 1)
    other = b if elected is a else a

    with pytest.raises(TransactionRefused) as refused:
        other.jobs.record_round(job_id, 1, "m", b"\0" * 32, [receipt(a, job_id, 1, asset_a)])

    assert refused.value.reason == "NotAggregator"


def test_double_reward_claim_is_refused(chain_net: ChainNet) -> None:
    requester, a = chain_net.member(5_000), chain_net.member()
    job_id, (asset,) = chain_net.running_job(requester, [a], rounds=1)
    a.jobs.record_round(job_id, 1, "m", b"\0" * 32, [receipt(a, job_id, 1, asset)])
    requester.jobs.complete(job_id, {asset: 1})
    a.jobs.claim(job_id, asset)

    with pytest.raises(TransactionRefused) as refused:
        a.jobs.claim(job_id, asset)

    assert refused.value.reason == "NothingToClaim"


def test_completion_must_name_exactly_the_contributors(chain_net: ChainNet) -> None:
    requester, a, b = chain_net.member(5_000), chain_net.member(), chain_net.member()
    job_id, (asset_a, asset_b) = chain_net.running_job(requester, [a, b], rounds=1)
    agg = aggregator([a, b], job_id, 1)
    agg.jobs.record_round(
        job_id, 1, "m", b"\0" * 32, [receipt(a, job_id, 1, asset_a), receipt(b, job_id, 1, asset_b)]
    )

    with pytest.raises(TransactionRefused) as refused:
        requester.jobs.complete(job_id, {asset_a: 1})  # leaves b out

    assert refused.value.reason == "SharesMismatch"


def test_cancel_refunds_the_pool(chain_net: ChainNet) -> None:
    requester = chain_net.member(5_000)
    before = requester.token.balance_of(requester.address)
    job_id = requester.jobs.propose("diagnosis", 2, 700 * TOKEN_UNIT, "s", "m")
    assert requester.token.balance_of(requester.address) == before - 700 * TOKEN_UNIT

    requester.jobs.cancel(job_id)

    assert requester.token.balance_of(requester.address) == before
    assert requester.jobs.job(job_id).status == JobStatus.CANCELLED
