"""Token-weighted governance with a timelock, on both backends."""

from __future__ import annotations

import pytest

from dain.devnet.network import pass_proposal
from dain.ledger import TOKEN_UNIT, JobStatus, ProposalState, TransactionRefused, Vote
from tests.conftest import ChainNet


def _open_vote(chain_net: ChainNet) -> None:
    chain_net.chain.mine(chain_net.params.voting_delay + 1)


def _close_vote(chain_net: ChainNet) -> None:
    chain_net.chain.mine(chain_net.params.voting_period + 1)


def test_votes_count_only_after_delegation(chain_net: ChainNet) -> None:
    silent = chain_net.member(1_000, delegate=False)
    assert silent.token.votes(silent.address) == 0
    silent.token.delegate()
    assert silent.token.votes(silent.address) == 1_000 * TOKEN_UNIT


def test_job_approval_goes_through_vote_queue_timelock_and_execution(chain_net: ChainNet) -> None:
    requester, voter = chain_net.member(5_000), chain_net.member(1_000)
    job_id = chain_net.propose(requester, 1)
    proposal = requester.gov.propose_job_approval(job_id)
    assert requester.gov.state(proposal) == ProposalState.PENDING

    _open_vote(chain_net)
    assert requester.gov.state(proposal) == ProposalState.ACTIVE
    requester.gov.vote(proposal, Vote.FOR)
    voter.gov.vote(proposal, Vote.AGAINST)
    _close_vote(chain_net)
    assert requester.gov.tally(proposal).for_ == 4_999 * TOKEN_UNIT  # 1 token sits in escrow
    assert requester.gov.state(proposal) == ProposalState.SUCCEEDED

    with pytest.raises(TransactionRefused):  # not queued: it cannot execute
        requester.gov.execute(proposal)
    requester.gov.queue(proposal)
    assert requester.gov.state(proposal) == ProposalState.QUEUED
    with pytest.raises(TransactionRefused) as early:  # queued but the delay has not passed
        requester.gov.execute(proposal)
    assert "delay" in early.value.message

    chain_net.chain.advance_time(requester.gov.timelock_delay() + 1)
    voter.gov.execute(proposal)  # anyone may execute once it passed and waited
    assert requester.gov.state(proposal) == ProposalState.EXECUTED
    assert requester.jobs.job(job_id).status == JobStatus.APPROVED


def test_vote_after_the_voting_period_is_refused(chain_net: ChainNet) -> None:
    requester, late = chain_net.member(5_000), chain_net.member(1_000)
    proposal = requester.gov.propose_job_approval(chain_net.propose(requester, 1))
    chain_net.chain.mine(chain_net.params.voting_delay + chain_net.params.voting_period + 2)

    with pytest.raises(TransactionRefused) as refused:
        late.gov.vote(proposal, Vote.FOR)

    assert refused.value.reason == "GovernorUnexpectedProposalState"
    assert "was defeated" in refused.value.message


def test_a_vote_cannot_be_cast_twice(chain_net: ChainNet) -> None:
    requester = chain_net.member(5_000)
    proposal = requester.gov.propose_job_approval(chain_net.propose(requester, 1))
    _open_vote(chain_net)
    requester.gov.vote(proposal, Vote.FOR)

    with pytest.raises(TransactionRefused) as refused:
        requester.gov.vote(proposal, Vote.FOR)

    assert refused.value.reason == "GovernorAlreadyCastVote"


def test_tokens_received_after_the_snapshot_do_not_count(chain_net: ChainNet) -> None:
    giver, receiver = chain_net.member(3_000), chain_net.member(1_000)
    proposal = giver.gov.propose_job_approval(chain_net.propose(giver, 1))
    _open_vote(chain_net)
    giver.gov.vote(proposal, Vote.FOR)
    giver.token.transfer(receiver.address, 2_000 * TOKEN_UNIT)  # after the snapshot

    receiver.gov.vote(proposal, Vote.AGAINST)

    assert receiver.token.votes(receiver.address) == 3_000 * TOKEN_UNIT
    assert giver.gov.tally(proposal).against == 1_000 * TOKEN_UNIT  # not 3,000: no double count
    assert giver.gov.tally(proposal).for_ == 2_999 * TOKEN_UNIT


def test_a_member_without_gas_votes_by_signature(chain_net: ChainNet) -> None:
    requester = chain_net.member(5_000)
    poor = chain_net.member(1_000)
    proposal = requester.gov.propose_job_approval(chain_net.propose(requester, 1))
    _open_vote(chain_net)
    ballot = poor.gov.ballot(poor.identity, proposal, Vote.AGAINST)
    gas_before = poor.gas_balance()

    requester.gov.submit_ballot(proposal, Vote.AGAINST, poor.address, ballot)  # a relayer pays

    assert poor.gov.has_voted(proposal, poor.address)
    assert poor.gov.tally(proposal).against == 1_000 * TOKEN_UNIT
    assert poor.gas_balance() == gas_before
    with pytest.raises(TransactionRefused):  # the same signature cannot vote again
        requester.gov.submit_ballot(proposal, Vote.AGAINST, poor.address, ballot)
    forged = poor.gov.ballot(requester.identity, proposal, Vote.FOR)  # signed by someone else
    with pytest.raises(TransactionRefused) as refused:
        requester.gov.submit_ballot(proposal, Vote.FOR, chain_net.member(10).address, forged)
    assert refused.value.reason == "GovernorInvalidSignature"


def test_without_quorum_the_proposal_is_defeated(chain_net: ChainNet) -> None:
    # 4% of 100,000 is 4,000: a 1,000-token member alone cannot pass anything
    small = chain_net.member(1_000)
    job_id = chain_net.propose(small, 1)
    proposal = small.gov.propose_job_approval(job_id)
    _open_vote(chain_net)
    small.gov.vote(proposal, Vote.FOR)
    _close_vote(chain_net)

    assert small.gov.state(proposal) == ProposalState.DEFEATED
    with pytest.raises(TransactionRefused):
        small.gov.queue(proposal)
    assert small.jobs.job(job_id).status == JobStatus.PROPOSED


def test_the_proposer_can_cancel_before_the_vote_opens(chain_net: ChainNet) -> None:
    requester = chain_net.member(5_000)
    proposal = requester.gov.propose_job_approval(chain_net.propose(requester, 1))

    requester.gov.cancel(proposal)

    assert requester.gov.state(proposal) == ProposalState.CANCELED


def test_admission_removal_and_parameters_are_proposals(chain_net: ChainNet) -> None:
    whale = chain_net.member(10_000)
    newcomer = chain_net.root.as_identity(whale.identity.create())
    chain_net.chain.fund(newcomer.address, 10**19)

    admit = whale.gov.propose_admission(newcomer.address)
    assert pass_proposal(chain_net.root, admit, [whale]) == ProposalState.EXECUTED
    assert whale.registry.is_member(newcomer.address)

    floor = whale.gov.propose_floor_share(2_500)
    assert pass_proposal(chain_net.root, floor, [whale]) == ProposalState.EXECUTED
    assert whale.jobs.floor_share_bps() == 2_500

    removal = whale.gov.propose_removal(newcomer.address)
    assert pass_proposal(chain_net.root, removal, [whale]) == ProposalState.EXECUTED
    assert not whale.registry.is_member(newcomer.address)
    with pytest.raises(TransactionRefused) as direct:
        whale.caller.send("set the floor share", whale.contracts.jobs.functions.setFloorShareBps(0))
    assert direct.value.reason == "NotGovernance"
