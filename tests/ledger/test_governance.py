"""Token-weighted governance: delegation, quorum, the voting period, execution."""

from __future__ import annotations

import pytest

from dain.ledger import TOKEN_UNIT, JobStatus, ProposalState, TransactionRefused, Vote
from tests.conftest import ChainNet


def test_votes_count_only_after_delegation(chain_net: ChainNet) -> None:
    silent = chain_net.member(1_000, delegate=False)
    assert silent.token.votes(silent.address) == 0
    silent.token.delegate()
    assert silent.token.votes(silent.address) == 1_000 * TOKEN_UNIT


def test_job_approval_passes_by_vote_and_executes(chain_net: ChainNet) -> None:
    requester, voter = chain_net.member(5_000), chain_net.member(1_000)
    job_id = requester.jobs.propose("diagnosis", 2, TOKEN_UNIT, "s", "m")
    proposal = requester.gov.propose_job_approval(job_id)
    assert requester.gov.state(proposal) == ProposalState.PENDING

    chain_net.chain.mine(chain_net.params.voting_delay + 1)
    assert requester.gov.state(proposal) == ProposalState.ACTIVE
    requester.gov.vote(proposal, Vote.FOR)
    voter.gov.vote(proposal, Vote.AGAINST)
    chain_net.chain.mine(chain_net.params.voting_period + 1)

    assert requester.gov.tally(proposal).for_ == 4_999 * TOKEN_UNIT  # 1 token sits in escrow
    assert requester.gov.state(proposal) == ProposalState.SUCCEEDED
    requester.gov.execute(proposal)
    assert requester.gov.state(proposal) == ProposalState.EXECUTED
    assert requester.jobs.job(job_id).status == JobStatus.APPROVED


def test_vote_after_the_voting_period_is_refused(chain_net: ChainNet) -> None:
    requester, late = chain_net.member(5_000), chain_net.member(1_000)
    job_id = requester.jobs.propose("diagnosis", 2, TOKEN_UNIT, "s", "m")
    proposal = requester.gov.propose_job_approval(job_id)
    chain_net.chain.mine(chain_net.params.voting_delay + chain_net.params.voting_period + 2)

    with pytest.raises(TransactionRefused) as refused:
        late.gov.vote(proposal, Vote.FOR)

    assert refused.value.reason == "GovernorUnexpectedProposalState"
    assert "was defeated" in refused.value.message


def test_a_vote_cannot_be_cast_twice(chain_net: ChainNet) -> None:
    requester = chain_net.member(5_000)
    proposal = requester.gov.propose_job_approval(
        requester.jobs.propose("diagnosis", 2, TOKEN_UNIT, "s", "m")
    )
    chain_net.chain.mine(chain_net.params.voting_delay + 1)
    requester.gov.vote(proposal, Vote.FOR)

    with pytest.raises(TransactionRefused) as refused:
        requester.gov.vote(proposal, Vote.FOR)

    assert refused.value.reason == "GovernorAlreadyCastVote"


def test_without_quorum_the_proposal_is_defeated(chain_net: ChainNet) -> None:
    # 4% of 100,000 is 4,000: a 1,000-token member alone cannot pass anything
    small = chain_net.member(1_000)
    job_id = small.jobs.propose("diagnosis", 2, TOKEN_UNIT, "s", "m")
    proposal = small.gov.propose_job_approval(job_id)
    chain_net.chain.mine(chain_net.params.voting_delay + 1)
    small.gov.vote(proposal, Vote.FOR)
    chain_net.chain.mine(chain_net.params.voting_period + 1)

    assert small.gov.state(proposal) == ProposalState.DEFEATED
    with pytest.raises(TransactionRefused):
        small.gov.execute(proposal)
    assert small.jobs.job(job_id).status == JobStatus.PROPOSED
