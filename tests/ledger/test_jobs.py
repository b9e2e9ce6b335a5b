"""Contract rules of the job lifecycle on both backends: every refusal named in the
design, receipts skipped (and reported) when they no longer hold, the happy path from
proposal to reward claims, cancellation and refunds."""

from __future__ import annotations

import dataclasses

import pytest

from dain.devnet.network import pass_proposal
from dain.ledger import (
    TOKEN_UNIT,
    Consent,
    JobStatus,
    JobTerms,
    Ledger,
    ProposalState,
    Receipt,
    Sent,
    SkipReason,
    TransactionRefused,
)
from tests.conftest import ChainNet
from tests.ledger.helpers import aggregator, receipt

ZERO_HASH = b"\0" * 32


def skipped(ledger: Ledger, sent: Sent) -> dict[int, SkipReason]:
    """The receipts a record skipped, and why."""
    return {s.asset_id: s.reason for s in ledger.jobs.skipped_in(sent)}


def test_full_job_pays_the_whole_pool(chain_net: ChainNet) -> None:
    requester, a, b = chain_net.member(5_000), chain_net.member(), chain_net.member()
    job_id, (asset_a, asset_b) = chain_net.running_job(requester, [a, b], rounds=2, pool=100)
    for rnd in (1, 2):
        agg = aggregator([a, b], job_id, rnd)
        agg.jobs.record_round(
            job_id,
            rnd,
            f"bafkrei-model-{rnd}",
            b"\x01" * 32,
            [receipt(a, job_id, rnd, asset_a), receipt(b, job_id, rnd, asset_b)],
        )
    requester.jobs.complete(job_id)

    paid_a, paid_b = a.jobs.claim(job_id, asset_a), b.jobs.claim(job_id, asset_b)

    # both took part in every round with as many examples, and no values were recorded
    pool = 100 * TOKEN_UNIT
    assert paid_a == paid_b == pool // 2
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


def test_forged_receipt_is_skipped_and_reported(chain_net: ChainNet) -> None:
    requester, a, mallory = chain_net.member(5_000), chain_net.member(), chain_net.member()
    job_id, (asset,) = chain_net.running_job(requester, [a])

    sent = a.jobs.record_round(job_id, 1, "m", ZERO_HASH, [receipt(mallory, job_id, 1, asset)])

    assert skipped(a, sent) == {asset: SkipReason.INVALID_SIGNATURE}
    assert a.jobs.data_used(job_id=job_id) == []
    assert a.jobs.round_record(job_id, 1).participants == 0
    assert a.jobs.enrollment(job_id, asset).rounds_used == 0


def test_tampered_receipt_fields_are_skipped(chain_net: ChainNet) -> None:
    requester, a = chain_net.member(5_000), chain_net.member()
    job_id, (asset,) = chain_net.running_job(requester, [a])
    inflated = dataclasses.replace(receipt(a, job_id, 1, asset, examples=10), num_examples=900)
    less_privacy = dataclasses.replace(receipt(a, job_id, 2, asset, epsilon=0.5), epsilon=0)

    for rnd, tampered in ((1, inflated), (2, less_privacy)):
        sent = a.jobs.record_round(job_id, rnd, "m", ZERO_HASH, [tampered])
        assert skipped(a, sent) == {asset: SkipReason.INVALID_SIGNATURE}


def test_receipt_replayed_from_another_round_is_skipped(chain_net: ChainNet) -> None:
    requester, a = chain_net.member(5_000), chain_net.member()
    job_id, (asset,) = chain_net.running_job(requester, [a])
    first = receipt(a, job_id, 1, asset)
    a.jobs.record_round(job_id, 1, "m1", ZERO_HASH, [first])

    sent = a.jobs.record_round(job_id, 2, "m2", ZERO_HASH, [first])

    assert skipped(a, sent) == {asset: SkipReason.INVALID_SIGNATURE}
    assert a.jobs.enrollment(job_id, asset).rounds_used == 1


def test_receipt_replayed_from_another_job_is_skipped(chain_net: ChainNet) -> None:
    requester, a = chain_net.member(5_000), chain_net.member()
    job_1, (asset,) = chain_net.running_job(requester, [a])
    job_2 = chain_net.propose(requester, 1)
    chain_net.approve_job(job_2, [requester, a])
    a.jobs.enroll(job_2, asset)
    requester.jobs.start(job_2)

    sent = a.jobs.record_round(job_2, 1, "m", ZERO_HASH, [receipt(a, job_1, 1, asset)])

    assert skipped(a, sent) == {asset: SkipReason.INVALID_SIGNATURE}


def test_receipt_for_another_chain_or_contract_is_skipped(chain_net: ChainNet) -> None:
    requester, a = chain_net.member(5_000), chain_net.member()
    job_id, (asset,) = chain_net.running_job(requester, [a])
    other_chain = Receipt(job_id, 1, asset, 10, b"\x07" * 32).signed_by(
        a.identity, a.chain_id + 1, a.jobs.address
    )
    other_contract = Receipt(job_id, 2, asset, 10, b"\x07" * 32).signed_by(
        a.identity, a.chain_id, a.deployment.assets
    )

    for rnd, bad in ((1, other_chain), (2, other_contract)):
        sent = a.jobs.record_round(job_id, rnd, "m", ZERO_HASH, [bad])
        assert skipped(a, sent) == {asset: SkipReason.INVALID_SIGNATURE}


def test_receipt_of_an_asset_not_enrolled_or_out_of_order_reverts_the_record(
    chain_net: ChainNet,
) -> None:
    requester, a, b = chain_net.member(5_000), chain_net.member(), chain_net.member()
    job_id, (asset_a, asset_b) = chain_net.running_job(requester, [a, b])
    stranger = chain_net.asset(a)
    agg = aggregator([a, b], job_id, 1)
    both = sorted([receipt(a, job_id, 1, asset_a), receipt(b, job_id, 1, asset_b)],
                  key=lambda r: r.asset_id)  # fmt: skip

    with pytest.raises(TransactionRefused) as not_enrolled:
        agg.jobs.record_round(job_id, 1, "m", ZERO_HASH, [*both, receipt(a, job_id, 1, stranger)])
    with pytest.raises(TransactionRefused) as twice:
        agg.caller.send("record", agg.contracts.jobs.functions.recordRound(
            job_id, 1, "m", ZERO_HASH, [both[0].as_call_argument()] * 2, [], []))  # fmt: skip

    assert not_enrolled.value.reason == "NotEnrolled"
    assert twice.value.reason == "ReceiptsNotSorted"


def test_receipt_after_revocation_is_skipped(chain_net: ChainNet) -> None:
    requester, a, b = chain_net.member(5_000), chain_net.member(), chain_net.member()
    job_id, (asset_a, asset_b) = chain_net.running_job(requester, [a, b])
    a.assets.revoke(asset_a)
    agg = aggregator([a, b], job_id, 1)

    sent = agg.jobs.record_round(
        job_id, 1, "m", ZERO_HASH, [receipt(a, job_id, 1, asset_a), receipt(b, job_id, 1, asset_b)]
    )

    assert skipped(agg, sent) == {asset_a: SkipReason.REVOKED}
    assert [u.asset_id for u in agg.jobs.data_used_in(sent)] == [asset_b]
    assert agg.address == b.address  # a revoked owner is never elected


def test_receipt_after_expiry_is_skipped(chain_net: ChainNet) -> None:
    requester, a, b = chain_net.member(5_000), chain_net.member(), chain_net.member()
    job_id = chain_net.propose(requester, rounds=2, round_duration=100_000)
    chain_net.approve_job(job_id, [requester, a, b])
    expiring = chain_net.asset(a, expiry=chain_net.chain.now() + 3_600)
    lasting = chain_net.asset(b)
    a.jobs.enroll(job_id, expiring)
    b.jobs.enroll(job_id, lasting)
    requester.jobs.start(job_id)
    chain_net.chain.advance_time(7_200)
    assert a.assets.consent_for(expiring, "diagnosis") == Consent.EXPIRED

    elected = aggregator([a, b], job_id, 1)
    sent = elected.jobs.record_round(
        job_id, 1, "m", ZERO_HASH,
        [receipt(a, job_id, 1, expiring), receipt(b, job_id, 1, lasting)],
    )  # fmt: skip

    assert elected is b  # an owner whose consent expired is not elected either
    assert skipped(b, sent) == {expiring: SkipReason.EXPIRED}


def test_policy_narrowed_after_enrollment_refuses_later_receipts(chain_net: ChainNet) -> None:
    requester, a = chain_net.member(5_000), chain_net.member()
    job_id, (asset,) = chain_net.running_job(requester, [a])
    a.jobs.record_round(job_id, 1, "m1", ZERO_HASH, [receipt(a, job_id, 1, asset)])
    from dain.data import ConsentPolicy

    a.assets.set_policy(asset, ConsentPolicy(("research",)), "bafkreipolicy2")

    sent = a.jobs.record_round(job_id, 2, "m2", ZERO_HASH, [receipt(a, job_id, 2, asset)])

    assert skipped(a, sent) == {asset: SkipReason.POLICY_CHANGED}
    assert a.jobs.enrollment(job_id, asset).rounds_used == 1


def test_enrollment_refused_for_a_purpose_the_policy_does_not_allow(chain_net: ChainNet) -> None:
    requester, a = chain_net.member(5_000), chain_net.member()
    job_id = chain_net.propose(requester)
    chain_net.approve_job(job_id, [requester, a])
    asset = chain_net.asset(a, purposes=("marketing",))

    with pytest.raises(TransactionRefused) as refused:
        a.jobs.enroll(job_id, asset)

    assert refused.value.reason == "ConsentRefused"
    assert "not allowed for this purpose" in str(refused.value)
    assert a.jobs.enrolled(job_id) == []


def test_job_cannot_run_without_approval(chain_net: ChainNet) -> None:
    requester, a = chain_net.member(5_000), chain_net.member()
    job_id = chain_net.propose(requester)
    asset = chain_net.asset(a)

    with pytest.raises(TransactionRefused) as enroll:
        a.jobs.enroll(job_id, asset)
    with pytest.raises(TransactionRefused) as start:
        requester.jobs.start(job_id)
    with pytest.raises(TransactionRefused) as record:
        a.jobs.record_round(job_id, 1, "m", ZERO_HASH, [receipt(a, job_id, 1, asset)])

    assert {enroll.value.reason, start.value.reason, record.value.reason} == {"WrongStatus"}
    assert "proposed" in enroll.value.message


def test_only_governance_approves(chain_net: ChainNet) -> None:
    requester = chain_net.member(5_000)
    job_id = chain_net.propose(requester)

    with pytest.raises(TransactionRefused) as refused:
        requester.caller.send("approve the job", requester.contracts.jobs.functions.approve(job_id))

    assert refused.value.reason == "NotGovernance"


def test_non_members_cannot_propose_or_enroll(chain_net: ChainNet) -> None:
    requester, a = chain_net.member(5_000), chain_net.member()
    outsider = chain_net.member(1_000)
    outsider_asset = chain_net.asset(outsider)
    removal = requester.gov.propose_removal(outsider.address)
    assert pass_proposal(chain_net.root, removal, [requester]) == ProposalState.EXECUTED
    job_id = chain_net.propose(requester)
    chain_net.approve_job(job_id, [requester, a])

    with pytest.raises(TransactionRefused) as propose:
        chain_net.propose(outsider)
    with pytest.raises(TransactionRefused) as enroll:
        outsider.jobs.enroll(job_id, outsider_asset)

    assert propose.value.reason == enroll.value.reason == "NotMember"


def test_only_the_elected_aggregator_records_a_round(chain_net: ChainNet) -> None:
    requester, a, b = chain_net.member(5_000), chain_net.member(), chain_net.member()
    job_id, (asset_a, _) = chain_net.running_job(requester, [a, b])
    elected = aggregator([a, b], job_id, 1)
    other = b if elected is a else a

    with pytest.raises(TransactionRefused) as refused:
        other.jobs.record_round(job_id, 1, "m", ZERO_HASH, [receipt(a, job_id, 1, asset_a)])

    assert refused.value.reason == "NotAggregator"


def test_a_missed_deadline_hands_the_round_to_the_next_candidate(chain_net: ChainNet) -> None:
    requester, a, b = chain_net.member(5_000), chain_net.member(), chain_net.member()
    job_id, (asset_a, asset_b) = chain_net.running_job(requester, [a, b], round_duration=600)
    first = aggregator([a, b], job_id, 1)
    backup = b if first is a else a
    receipts = [receipt(a, job_id, 1, asset_a), receipt(b, job_id, 1, asset_b)]

    chain_net.chain.advance_time(601)  # the elected aggregator lets the deadline pass

    assert a.jobs.aggregator_of(job_id, 1) == backup.address
    with pytest.raises(TransactionRefused) as late:
        first.jobs.record_round(job_id, 1, "m", ZERO_HASH, receipts)
    assert late.value.reason == "NotAggregator"
    backup.jobs.record_round(job_id, 1, "m", ZERO_HASH, receipts)
    assert a.jobs.round_record(job_id, 1).aggregator == backup.address
    assert a.jobs.reputation(first.address).aggregations_missed == 1
    assert a.jobs.reputation(backup.address).aggregations_missed == 0


def test_round_records_carry_privacy_loss_within_the_budget(chain_net: ChainNet) -> None:
    requester, a = chain_net.member(5_000), chain_net.member()
    job_id, (asset,) = chain_net.running_job(requester, [a], max_epsilon=1.0)
    a.jobs.record_round(job_id, 1, "m1", ZERO_HASH, [receipt(a, job_id, 1, asset, epsilon=0.6)])

    sent = a.jobs.record_round(job_id, 2, "m2", ZERO_HASH,
                               [receipt(a, job_id, 2, asset, epsilon=0.5)])  # fmt: skip

    assert skipped(a, sent) == {asset: SkipReason.OVER_BUDGET}
    assert a.jobs.round_record(job_id, 1).epsilon == pytest.approx(0.6)
    assert a.jobs.round_record(job_id, 2).epsilon == 0
    assert a.jobs.job(job_id).epsilon_spent == pytest.approx(0.6)


def test_a_round_needs_the_participants_a_policy_asks_for(chain_net: ChainNet) -> None:
    requester, a, b = chain_net.member(5_000), chain_net.member(), chain_net.member()
    job_id = chain_net.propose(requester)
    chain_net.approve_job(job_id, [requester, a, b])
    crowd_only = chain_net.asset(a, min_participants=2)
    other = chain_net.asset(b)
    a.jobs.enroll(job_id, crowd_only)
    b.jobs.enroll(job_id, other)
    requester.jobs.start(job_id)
    alone = aggregator([a, b], job_id, 1).jobs.record_round(
        job_id, 1, "m", ZERO_HASH, [receipt(a, job_id, 1, crowd_only)]
    )
    together = aggregator([a, b], job_id, 2).jobs.record_round(
        job_id, 2, "m", ZERO_HASH, [receipt(a, job_id, 2, crowd_only), receipt(b, job_id, 2, other)]
    )

    assert skipped(a, alone) == {crowd_only: SkipReason.TOO_FEW_PARTICIPANTS}
    assert skipped(a, together) == {}
    assert a.jobs.enrollment(job_id, crowd_only).rounds_used == 1


def test_double_reward_claim_is_refused(chain_net: ChainNet) -> None:
    requester, a = chain_net.member(5_000), chain_net.member()
    job_id, (asset,) = chain_net.running_job(requester, [a], rounds=1)
    a.jobs.record_round(job_id, 1, "m", ZERO_HASH, [receipt(a, job_id, 1, asset)])
    requester.jobs.complete(job_id)
    a.jobs.claim(job_id, asset)

    with pytest.raises(TransactionRefused) as refused:
        a.jobs.claim(job_id, asset)

    assert refused.value.reason == "NothingToClaim"


def test_a_job_completes_only_after_its_last_round(chain_net: ChainNet) -> None:
    requester, a = chain_net.member(5_000), chain_net.member()
    job_id, (asset,) = chain_net.running_job(requester, [a], rounds=2)
    a.jobs.record_round(job_id, 1, "m", ZERO_HASH, [receipt(a, job_id, 1, asset)])

    with pytest.raises(TransactionRefused) as early:
        a.jobs.complete(job_id)
    with pytest.raises(TransactionRefused) as pending:
        a.jobs.claim(job_id, asset)

    assert early.value.reason == "RoundsNotFinished"
    assert pending.value.reason == "SettlementPending"


def test_cancel_before_running_refunds_the_pool(chain_net: ChainNet) -> None:
    requester = chain_net.member(5_000)
    before = requester.token.balance_of(requester.address)
    job_id = chain_net.propose(requester, 700)
    assert requester.token.balance_of(requester.address) == before - 700 * TOKEN_UNIT

    requester.jobs.cancel(job_id)

    assert requester.token.balance_of(requester.address) == before
    assert requester.jobs.job(job_id).status == JobStatus.CANCELLED


def test_cancel_while_running_pays_used_rounds_and_refunds_the_rest(chain_net: ChainNet) -> None:
    requester, a = chain_net.member(5_000), chain_net.member()
    job_id = chain_net.propose(requester, 100, rounds=4)
    chain_net.approve_job(job_id, [requester, a])
    asset = chain_net.asset(a, price_per_round=5 * TOKEN_UNIT)
    a.jobs.enroll(job_id, asset)
    requester.jobs.start(job_id)
    a.jobs.record_round(job_id, 1, "m1", ZERO_HASH, [receipt(a, job_id, 1, asset)])
    before = requester.token.balance_of(requester.address)

    requester.jobs.cancel(job_id)

    # the owner keeps its price for the round done and a quarter of the pool beyond prices
    assert requester.token.balance_of(requester.address) == before + 75 * TOKEN_UNIT
    assert a.jobs.claim(job_id, asset) == (5 + 20) * TOKEN_UNIT
    assert requester.token.balance_of(requester.jobs.address) == 0
    assert [r.amount for r in a.jobs.refunds(job_id)] == [75 * TOKEN_UNIT]


def test_prices_are_paid_first_and_must_fit_the_pool(chain_net: ChainNet) -> None:
    requester, a, b = chain_net.member(5_000), chain_net.member(), chain_net.member()
    job_id = chain_net.propose(requester, 100, rounds=2)
    chain_net.approve_job(job_id, [requester, a, b])
    priced = chain_net.asset(a, price_per_round=30 * TOKEN_UNIT)
    too_dear = chain_net.asset(b, price_per_round=30 * TOKEN_UNIT)
    a.jobs.enroll(job_id, priced)

    with pytest.raises(TransactionRefused) as refused:
        b.jobs.enroll(job_id, too_dear)  # 2 rounds x (30 + 30) > 100
    assert refused.value.reason == "PoolTooSmall"

    requester.jobs.start(job_id)
    for rnd in (1, 2):
        a.jobs.record_round(job_id, rnd, "m", ZERO_HASH, [receipt(a, job_id, rnd, priced)])
    requester.jobs.complete(job_id)
    assert a.jobs.claim(job_id, priced) == 100 * TOKEN_UNIT  # 60 in prices + all of the rest


def test_no_round_beyond_the_last_is_recorded(chain_net: ChainNet) -> None:
    requester, a = chain_net.member(5_000), chain_net.member()
    job_id, (asset,) = chain_net.running_job(requester, [a], rounds=1)
    a.jobs.record_round(job_id, 1, "m1", ZERO_HASH, [receipt(a, job_id, 1, asset)])

    with pytest.raises(TransactionRefused) as refused:
        a.jobs.record_round(job_id, 2, "m2", ZERO_HASH, [receipt(a, job_id, 2, asset)])

    assert refused.value.reason == "WrongRound"
    assert a.jobs.job(job_id).current_round == 1


def test_secure_jobs_need_an_agreement_key_at_enrollment(chain_net: ChainNet) -> None:
    requester, a = chain_net.member(5_000), chain_net.member()
    job_id = chain_net.propose(requester, secure_aggregation=True)
    chain_net.approve_job(job_id, [requester])
    asset = chain_net.asset(a)

    with pytest.raises(TransactionRefused) as refused:
        a.jobs.enroll(job_id, asset)
    a.jobs.enroll(job_id, asset, b"\x07" * 32)

    assert refused.value.reason == "MissingAgreementKey"
    assert "secure-aggregation job" in str(refused.value)
    assert a.jobs.agreement_keys(job_id) == {asset: b"\x07" * 32}


def test_a_secure_round_too_few_survived_is_aborted_with_the_model_unchanged(
    chain_net: ChainNet,
) -> None:
    requester, a, b = chain_net.member(5_000), chain_net.member(), chain_net.member()
    job_id = chain_net.propose(requester, secure_aggregation=True)
    chain_net.approve_job(job_id, [requester])
    for owner, key in ((a, b"\x01"), (b, b"\x02")):
        owner.jobs.enroll(job_id, chain_net.asset(owner), key * 32)
    requester.jobs.start(job_id)
    elected = aggregator([a, b], job_id, 1)
    other = b if elected is a else a

    with pytest.raises(TransactionRefused) as not_elected:
        other.jobs.abort_round(job_id, 1, survivors=1)
    elected.jobs.abort_round(job_id, 1, survivors=1)

    assert not_elected.value.reason == "NotAggregator"
    job = a.jobs.job(job_id)
    assert (job.current_round, job.model_cid) == (1, "bafkreimodel")
    assert a.jobs.round_record(job_id, 1).participants == 0
    assert a.jobs.rounds_aborted(job_id) == [1]
    assert a.jobs.data_used(job_id=job_id) == []


def test_only_secure_jobs_abort_rounds(chain_net: ChainNet) -> None:
    requester, a = chain_net.member(5_000), chain_net.member()
    job_id, _ = chain_net.running_job(requester, [a])

    with pytest.raises(TransactionRefused) as refused:
        a.jobs.abort_round(job_id, 1, survivors=0)

    assert refused.value.reason == "NotSecureAggregation"


def test_a_job_is_proposed_in_two_steps_the_ledger_takes_together(chain_net: ChainNet) -> None:
    requester = chain_net.member(100)
    terms = JobTerms("diagnosis", 1, 10 * TOKEN_UNIT, "bafkreispec", "bafkreimodel")

    with pytest.raises(TransactionRefused) as refused:
        requester.jobs.propose(terms)  # the Jobs call alone: the pool is not approved yet
    job_id = requester.propose_job(terms)  # approve the pool, then propose

    assert refused.value.reason == "ERC20InsufficientAllowance"
    assert requester.jobs.job(job_id).reward_pool == 10 * TOKEN_UNIT
    assert requester.token.balance_of(requester.jobs.address) == 10 * TOKEN_UNIT
