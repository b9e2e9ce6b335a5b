"""Rewards and reputation: the contract pays what dain.incentives computes, token supply
is conserved across escrow, payment and refund, and members' counters add up."""

from __future__ import annotations

import hashlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dain.data import ConsentPolicy
from dain.devnet.network import pass_proposal
from dain.identity import Identity
from dain.incentives import payouts, to_basis_points
from dain.ledger import TOKEN_UNIT, EmbeddedChain, JobTerms, Ledger, NetworkParams, deploy
from tests.conftest import ChainNet
from tests.ledger.helpers import aggregator, receipt

ZERO_HASH = b"\0" * 32


def test_contract_pays_exactly_what_incentives_computes(chain_net: ChainNet) -> None:
    requester = chain_net.member(5_000)
    owners = [chain_net.member() for _ in range(3)]
    job_id = chain_net.propose(requester, 90, rounds=3)
    chain_net.approve_job(job_id, [requester, *owners])
    prices = [2 * TOKEN_UNIT, 0, 3 * TOKEN_UNIT]
    assets = []
    for owner, price in zip(owners, prices, strict=True):
        assets.append(chain_net.asset(owner, price_per_round=price))
        owner.jobs.enroll(job_id, assets[-1])
    requester.jobs.start(job_id)
    # the third owner sits out round 3, so the floor share is the first two's alone
    for rnd in (1, 2, 3):
        taking_part = owners if rnd < 3 else owners[:2]
        agg = aggregator(owners, job_id, rnd)  # any live owner may be elected
        agg.jobs.record_round(
            job_id,
            rnd,
            "m",
            ZERO_HASH,
            [
                receipt(o, job_id, rnd, a, 10 * (i + 1))
                for i, (o, a) in enumerate(zip(taking_part, assets, strict=False))
            ],
        )
    shares = to_basis_points({a: 7 * (i + 1) for i, a in enumerate(assets)})

    requester.jobs.complete(job_id, shares)

    expected = payouts(
        90 * TOKEN_UNIT,
        3,
        {a: 3 if i < 2 else 2 for i, a in enumerate(assets)},
        dict(zip(assets, prices, strict=True)),
        shares,
        requester.jobs.floor_share_bps(),
    )
    assert {a: requester.jobs.owed(job_id, a) for a in assets} == expected
    for owner, asset in zip(owners, assets, strict=True):
        assert owner.jobs.claim(job_id, asset) == expected[asset]


def test_reputation_counts_rounds_done_missed_and_rejected(chain_net: ChainNet) -> None:
    requester, a, b = chain_net.member(5_000), chain_net.member(), chain_net.member()
    job_id, (asset_a, _) = chain_net.running_job(requester, [a, b], rounds=2)
    for rnd in (1, 2):  # b's updates are refused both rounds; a's are used
        agg = aggregator([a, b], job_id, rnd)
        agg.jobs.record_round(
            job_id, rnd, "m", ZERO_HASH, [receipt(a, job_id, rnd, asset_a)], rejected=[b.address]
        )
    requester.jobs.complete(job_id, {asset_a: 10_000})

    rep_a, rep_b = a.jobs.reputation(a.address), a.jobs.reputation(b.address)
    assert (rep_a.rounds_completed, rep_a.rounds_missed, rep_a.updates_rejected) == (2, 0, 0)
    assert (rep_b.rounds_completed, rep_b.rounds_missed, rep_b.updates_rejected) == (0, 2, 2)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pool=st.integers(1, 1_000),
    price=st.integers(0, 50),
    rounds=st.integers(1, 3),
    done=st.integers(0, 3),
    finish=st.booleans(),
)
def test_token_supply_is_conserved_across_escrow_payment_and_refund(
    pool: int, price: int, rounds: int, done: int, finish: bool
) -> None:
    """Whatever happens to a job, every token is somewhere: with a holder or in escrow."""
    chain = EmbeddedChain()
    treasury = Identity.create()
    chain.fund(treasury.address, 10**20)
    params = NetworkParams(voting_period=5, timelock_delay=1, token_supply=100_000 * TOKEN_UNIT)
    root = Ledger(chain, deploy(chain.web3, treasury, params, gas_limit=chain.gas_limit), treasury)
    people = []
    for tokens in (50_000, 0):
        who = root.as_identity(Identity.create())
        chain.fund(who.address, 10**19)
        root.registry.admit(who.address)
        if tokens:
            root.token.transfer(who.address, tokens * TOKEN_UNIT)
            who.token.delegate()
        people.append(who)
    requester, owner = people
    price = min(price, pool // rounds)
    job_id = requester.propose_job(JobTerms("diagnosis", rounds, pool * TOKEN_UNIT, "s", "m"))
    pass_proposal(root, requester.gov.propose_job_approval(job_id), [requester])
    asset = owner.assets.register(
        hashlib.sha256(b"m").digest(),
        "m",
        ConsentPolicy(("diagnosis",), price_per_round=price * TOKEN_UNIT),
        "p",
    )
    owner.jobs.enroll(job_id, asset)
    requester.jobs.start(job_id)
    done = min(done, rounds)
    for rnd in range(1, done + 1):
        owner.jobs.record_round(job_id, rnd, "m", ZERO_HASH, [receipt(owner, job_id, rnd, asset)])
    if finish and done == rounds:
        requester.jobs.complete(job_id, {asset: 10_000})
    else:
        requester.jobs.cancel(job_id)
    if owner.jobs.owed(job_id, asset):
        owner.jobs.claim(job_id, asset)

    holders = [treasury.address, requester.address, owner.address, root.jobs.address]
    assert sum(root.token.balance_of(h) for h in holders) == root.token.total_supply()
    assert root.token.balance_of(root.jobs.address) == 0
    paid = root.token.balance_of(owner.address)
    assert paid == (pool * TOKEN_UNIT if finish and done == rounds else price * done * TOKEN_UNIT)
