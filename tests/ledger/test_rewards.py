"""Rewards and reputation: the contract pays what dain.incentives computes (prices, floor
share, examples x quality from the values aggregators recorded), token supply is conserved
across escrow, payment and refund, and members' counters add up."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dain.data import ConsentPolicy
from dain.devnet.network import pass_proposal
from dain.identity import Identity
from dain.incentives.settlement import AssetUse, cancel_split, settle
from dain.ledger import TOKEN_UNIT, EmbeddedChain, JobTerms, Ledger, NetworkParams, deploy
from tests.conftest import ChainNet, manifest
from tests.ledger.helpers import aggregator, receipt

ZERO_HASH = b"\0" * 32


def test_contract_pays_exactly_what_incentives_computes(chain_net: ChainNet) -> None:
    requester = chain_net.member(5_000)
    owners = [chain_net.member() for _ in range(4)]
    job_id = chain_net.propose(requester, 90, rounds=6)
    chain_net.approve_job(job_id, [requester])
    prices = [2 * TOKEN_UNIT, 0, 3 * TOKEN_UNIT, 0]
    assets = []
    for owner, price in zip(owners, prices, strict=True):
        assets.append(chain_net.asset(owner, price_per_round=price))
        owner.jobs.enroll(job_id, assets[-1])
    requester.jobs.start(job_id)
    # each aggregator values the others' updates; the fourth owner's look harmful and it sits
    # out round 6, so the floor share is the first three's
    values: dict[int, dict[str, list[int]]] = {a: {} for a in assets}
    for rnd in range(1, 7):
        taking_part = list(zip(owners, assets, strict=True))[: 4 if rnd < 6 else 3]
        agg = aggregator(owners, job_id, rnd)
        judged = {a: [1_000, 400, 800, -300][i] + 17 * rnd for i, (_, a) in enumerate(taking_part)}
        agg.jobs.record_round(
            job_id, rnd, "m", ZERO_HASH,
            [receipt(o, job_id, rnd, a, 10 * (i + 1)) for i, (o, a) in enumerate(taking_part)],
            values=judged,
        )  # fmt: skip
        for owner, asset in taking_part:
            if owner is not agg:  # an aggregator's value of its own data does not count
                values[asset].setdefault(agg.address, []).append(judged[asset])

    owners[3].jobs.complete(job_id)  # anyone may: here a participant

    expected = settle(
        90 * TOKEN_UNIT, 6, requester.jobs.floor_share_bps(),
        [AssetUse(a, p, 6 if i < 3 else 5, (6 if i < 3 else 5) * 10 * (i + 1), values[a])
         for i, (a, p) in enumerate(zip(assets, prices, strict=True))],
    )  # fmt: skip
    assert {a: requester.jobs.owed(job_id, a) for a in assets} == expected
    assert sum(expected.values()) == 90 * TOKEN_UNIT
    for owner, asset in zip(owners, assets, strict=True):
        if expected[asset]:  # the harmful updates' owner may have earned nothing
            assert owner.jobs.claim(job_id, asset) == expected[asset]
    assert requester.token.balance_of(requester.jobs.address) == 0


def test_reputation_counts_rounds_done_missed_and_rejected(chain_net: ChainNet) -> None:
    requester, a, b = chain_net.member(5_000), chain_net.member(), chain_net.member()
    job_id, (asset_a, _) = chain_net.running_job(requester, [a, b], rounds=2)
    for rnd in (1, 2):  # b's updates are refused both rounds; a's are used
        agg = aggregator([a, b], job_id, rnd)
        agg.jobs.record_round(
            job_id, rnd, "m", ZERO_HASH, [receipt(a, job_id, rnd, asset_a)], rejected=[b.address]
        )
    requester.jobs.complete(job_id)

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
    people = [Identity.create() for _ in range(2)]
    deployment = deploy(chain.web3, treasury, params, founders=[p.address for p in people],
                        gas_limit=chain.gas_limit)  # fmt: skip
    root = Ledger(chain, deployment, treasury)
    requester, owner = (root.as_identity(p) for p in people)
    for who in (requester, owner):
        chain.fund(who.address, 10**19)
    root.token.transfer(requester.address, 50_000 * TOKEN_UNIT)
    requester.token.delegate()
    price = min(price, pool // rounds)
    job_id = requester.propose_job(JobTerms("diagnosis", rounds, pool * TOKEN_UNIT, "s", "m"))
    pass_proposal(root, requester.gov.propose_job_approval(job_id), [requester])
    asset = owner.assets.register(
        manifest(), "m", ConsentPolicy(("diagnosis",), price_per_round=price * TOKEN_UNIT), "p"
    )
    owner.jobs.enroll(job_id, asset)
    requester.jobs.start(job_id)
    done = min(done, rounds if finish else rounds - 1)  # after the last round: no cancelling
    for rnd in range(1, done + 1):
        owner.jobs.record_round(job_id, rnd, "m", ZERO_HASH, [receipt(owner, job_id, rnd, asset)])
    if finish and done == rounds:
        owner.jobs.complete(job_id)
    else:
        requester.jobs.cancel(job_id)
    if owner.jobs.owed(job_id, asset):
        owner.jobs.claim(job_id, asset)

    holders = [treasury.address, requester.address, owner.address, root.jobs.address]
    assert sum(root.token.balance_of(h) for h in holders) == root.token.total_supply()
    assert root.token.balance_of(root.jobs.address) == 0
    paid = root.token.balance_of(owner.address)
    if finish and done == rounds:
        assert paid == pool * TOKEN_UNIT
    else:
        to_owners, _ = cancel_split(pool * TOKEN_UNIT, price * TOKEN_UNIT, rounds, done)
        assert paid == to_owners
