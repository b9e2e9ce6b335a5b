"""Gas of every state-changing call dain makes, of round records with 1, 10 and 50 receipts
and with the most receipts a job may have (the contract's MAX_ASSETS_PER_JOB), and of
settling and claiming that largest job; measured on the embedded chain (gas is
deterministic). Round records carry the aggregator's value of each update, as in a job
without secure aggregation. The baseline in the same run is the first round of each job,
which pays one-time storage costs.

A job that samples its assets per round (half of them, `sample_bps` 5,000) is measured too:
its records check each receipt's asset against the round's sample (a keccak each), and its
settlement counts the rounds each asset was sampled for.

Prints one JSON line: {"calls": {...}, "round_record_gas": {"1":..,"10":..,"50":..},
"max_round_record_gas": .., "claim_gas": .., "sampled_gas_per_receipt": .., ...}. Targets: at
most 25,000 gas per receipt beyond a round record's base cost; a record at the cap, a
settlement batch and a claim well inside a 30M-gas block."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from dain.data import AssetManifest, ConsentPolicy
from dain.devnet.network import admit_by_vote, pass_proposal
from dain.identity import Identity
from dain.ledger import (
    TOKEN_UNIT,
    EmbeddedChain,
    JobInfo,
    JobTerms,
    Ledger,
    NetworkParams,
    Receipt,
    Vote,
    deploy,
    sample,
)

BLOCK_GAS = 30_000_000
ADMIT_BATCH = 100  # members one admission proposal takes: its execution stays under 15M gas
calls: dict[str, int] = {}


def measured(name: str, ledger: Ledger, action: Callable[[], Any]) -> Any:
    """Runs `action` (ending in one transaction of `ledger`'s) and records its gas."""
    before = ledger.block_number()
    result = action()
    # the embedded chain mines one block per transaction: the last block holds this call
    # (a step that first approves tokens, like Ledger.propose_job, leaves that one block earlier)
    assert ledger.block_number() > before, name
    receipt = last_receipt(ledger)
    assert receipt["from"] == ledger.address, name
    calls.setdefault(name, int(receipt["gasUsed"]))
    return result


def last_receipt(ledger: Ledger) -> Any:
    web3 = ledger.backend.web3  # a measuring tool reads receipts directly
    block = web3.eth.get_block("latest")
    return web3.eth.get_transaction_receipt(block["transactions"][-1])


def manifest(name: str, rows: int = 1_000) -> AssetManifest:
    """A distinct manifest of `rows` rows (no dataset behind it: gas does not care)."""
    commitment = hashlib.sha256(name.encode()).hexdigest()
    return AssetManifest(name, ("x",), "y", ("0", "1"), rows, commitment)


def members(chain: EmbeddedChain, root: Ledger, count: int, tokens: int = 0) -> list[Ledger]:
    """`count` new members, admitted by the treasury's vote in batches, registered as `dain
    node start` registers: an https endpoint and its certificate's fingerprint."""
    identities = [Identity.create() for _ in range(count)]
    for start in range(0, count, ADMIT_BATCH):
        batch = [i.address for i in identities[start:start + ADMIT_BATCH]]
        if len(batch) == 1:
            measured("gov.execute (admit a member)", root, lambda b=batch: admit_by_vote(root, b))
        else:
            admit_by_vote(root, batch)
    made = []
    for identity in identities:
        who = root.as_identity(identity)
        chain.fund(who.address, 10**20)
        if tokens:
            measured("token.transfer", root,
                     lambda w=who: root.token.transfer(w.address, tokens * TOKEN_UNIT))  # fmt: skip
            measured("token.delegate", who, lambda w=who: w.token.delegate())
        fingerprint = hashlib.sha256(who.address.encode()).digest()
        measured("registry.register", who,
                 lambda w=who, f=fingerprint: w.registry.register("https://127.0.0.1:9000", b"",
                                                                    f))  # fmt: skip
        made.append(who)
    return made


def running_job(
    chain: EmbeddedChain, root: Ledger, requester: Ledger, size: int, rounds: int = 3,
    sample_bps: int = 0,
) -> tuple[int, list[Ledger], list[int]]:  # fmt: skip
    """A started job with `size` owners, one asset each (sampling `sample_bps` of them a
    round; 0: all)."""
    owners = members(chain, root, size)
    job_id = measured(
        "jobs.propose",
        requester,
        lambda: requester.propose_job(
            JobTerms("diagnosis", rounds, 100 * TOKEN_UNIT, "bafkreispec", "bafkreimodel",
                     round_duration=10**6, max_epsilon=8.0, max_assets=max(size, 2),
                     sample_bps=sample_bps)
        ),
    )  # fmt: skip
    pass_proposal(root, requester.gov.propose_job_approval(job_id), [requester])
    assets = []
    for i, owner in enumerate(owners):
        policy = ConsentPolicy(("diagnosis", "research"), price_per_round=0, max_epsilon=8.0)
        made = manifest(f"asset-{job_id}-{i}")
        assets.append(
            measured("assets.register", owner,
                     lambda o=owner, m=made, p=policy: o.assets.register(m, "bafkreimanifest", p,
                                                                         "bafkreipolicy"))
        )  # fmt: skip
        measured("jobs.enroll", owner, lambda o=owner, a=assets[-1]: o.jobs.enroll(job_id, a))
    jobs = requester.contracts.jobs.functions
    measured("jobs.start", requester,
             lambda: requester.caller.send("start the job", jobs.start(job_id)))  # fmt: skip
    measured("jobs.draw_seed", requester, lambda: requester.jobs.draw_seed(job_id))
    return job_id, owners, assets


def record(
    root: Ledger, job_id: int, rnd: int, owners: list[Ledger], assets: list[int], *,
    sampled_of: JobInfo | None = None, at_most: int | None = None,
) -> int:  # fmt: skip
    """Gas of round `rnd`'s record: every owner's receipt (100 examples, epsilon 0.25) and
    the aggregator's value of each; in a sampling job (`sampled_of`), the sampled owners'
    only, the first `at_most` of them when given."""
    pairs = list(zip(owners, assets, strict=True))
    if sampled_of is not None:
        drawn = set(sample(sampled_of.seed, rnd, assets, sampled_of.sample_bps))
        pairs = [(o, a) for o, a in pairs if a in drawn][:at_most]
    receipts = [
        Receipt(job_id, rnd, a, 100, hashlib.sha256(f"{rnd}{a}".encode()).digest(),
                epsilon=250_000).signed_by(o.identity, o.chain_id, o.jobs.address)
        for o, a in pairs
    ]  # fmt: skip
    assets = [a for _, a in pairs]
    values = {a: 700 + (a % 900) for a in assets}  # typical values, varied
    elected = next(o for o in owners if o.address == root.jobs.aggregator_of(job_id, rnd))
    sent = elected.jobs.record_round(job_id, rnd, "bafkrei" + "m" * 52, b"\1" * 32, receipts,
                                     values=values)  # fmt: skip
    assert len(elected.jobs.data_used_in(sent)) == len(receipts)
    return sent.gas_used


def main() -> None:
    chain = EmbeddedChain()
    treasury = Identity.create()
    chain.fund(treasury.address, 10**22)
    params = NetworkParams(voting_period=5, timelock_delay=1)
    root = Ledger(chain, deploy(chain.web3, treasury, params, gas_limit=chain.gas_limit), treasury)
    (requester,) = members(chain, root, 1, tokens=100_000)

    first, steady = {}, {}
    for size in (1, 10, 50):
        job_id, owners, assets = running_job(chain, root, requester, size)
        first[str(size)] = record(root, job_id, 1, owners, assets)
        steady[str(size)] = record(root, job_id, 2, owners, assets)

    # the largest job the contract allows: a record with every receipt, settlement, claims
    cap = root.jobs.max_assets_per_job()
    job_id, owners, assets = running_job(chain, root, requester, cap)
    at_cap = [record(root, job_id, rnd, owners, assets) for rnd in (1, 2, 3)]
    anyone = owners[-1]
    measured("jobs.complete (at the cap, settles the first batch)", anyone,
             lambda: anyone.jobs.complete(job_id))  # fmt: skip
    settle_batches = []
    while anyone.jobs.settlement_left(job_id):
        anyone.jobs.settle(job_id)
        settle_batches.append(int(last_receipt(anyone)["gasUsed"]))
    claims, paid = [], 0
    for owner, asset in zip(owners, assets, strict=True):
        paid += owner.jobs.claim(job_id, asset)
        claims.append(int(last_receipt(owner)["gasUsed"]))
    assert paid == 100 * TOKEN_UNIT  # the whole pool, to the last base unit

    # a job sampling half its assets a round: a record of one sampled receipt, then of the
    # whole sample, both steady rounds; and completing it, which settles its 24 assets
    job_id, owners, assets = running_job(chain, root, requester, 24 * 3, rounds=4,
                                         sample_bps=5_000)  # fmt: skip
    job = root.jobs.job(job_id)
    record(root, job_id, 1, owners, assets, sampled_of=job)
    one = record(root, job_id, 2, owners, assets, sampled_of=job, at_most=1)
    drawn = len(sample(job.seed, 3, assets, job.sample_bps))
    whole = record(root, job_id, 3, owners, assets, sampled_of=job)
    record(root, job_id, 4, owners, assets, sampled_of=job)
    measured("jobs.complete (sampling, 72 assets, 4 rounds)", owners[0],
             lambda: owners[0].jobs.complete(job_id))  # fmt: skip

    # the remaining calls, on a small job
    (owner,) = members(chain, root, 1, tokens=10)
    job_id = requester.propose_job(JobTerms("diagnosis", 1, TOKEN_UNIT, "s", "m"))
    proposal = measured(
        "gov.propose", requester, lambda: requester.gov.propose_job_approval(job_id)
    )
    chain.mine(params.voting_delay + 1)
    measured("gov.vote", requester, lambda: requester.gov.vote(proposal, Vote.FOR))
    chain.mine(params.voting_period + 1)
    measured("gov.queue", requester, lambda: requester.gov.queue(proposal))
    chain.advance_time(params.timelock_delay + 1)
    measured("gov.execute", requester, lambda: requester.gov.execute(proposal))
    asset = owner.assets.register(manifest("x"), "m", ConsentPolicy(("diagnosis",)), "p")
    measured(
        "assets.set_policy",
        owner,
        lambda: owner.assets.set_policy(asset, ConsentPolicy(("diagnosis",)), "p2"),
    )
    owner.jobs.enroll(job_id, asset)
    requester.jobs.start(job_id)
    receipt = Receipt(job_id, 1, asset, 5, b"\2" * 32).signed_by(
        owner.identity, owner.chain_id, owner.jobs.address
    )
    owner.jobs.record_round(job_id, 1, "m", b"\1" * 32, [receipt])
    measured("jobs.complete", requester, lambda: requester.jobs.complete(job_id))
    measured("jobs.claim", owner, lambda: owner.jobs.claim(job_id, asset))
    measured("registry.attest", owner, lambda: owner.registry.attest(requester.address, 2**40))
    measured("assets.revoke", owner, lambda: owner.assets.revoke(asset))
    cancel_job = requester.propose_job(JobTerms("diagnosis", 1, TOKEN_UNIT, "s", "m"))
    measured("jobs.cancel", requester, lambda: requester.jobs.cancel(cancel_job))
    calls["jobs.record_round (1 receipt, steady)"] = steady["1"]

    per_receipt = (steady["50"] - steady["1"]) / 49
    print(
        json.dumps(
            {
                "calls": dict(sorted(calls.items())),
                "round_record_gas": steady,
                "round_record_gas_first_round": first,
                "gas_per_receipt": round(per_receipt),
                "gas_per_receipt_first_round": round((first["50"] - first["1"]) / 49),
                "target_gas_per_receipt": 25_000,
                "max_receipts": cap,
                "max_round_record_gas": max(at_cap),
                "settle_batch_gas_max": max(settle_batches, default=0),
                "settle_batches": len(settle_batches),
                "claim_gas": max(claims),
                "sampled_gas_per_receipt": round((whole - one) / (drawn - 1)),
                "sampled_receipts": drawn,
                "block_gas_limit": BLOCK_GAS,
            }
        )
    )


if __name__ == "__main__":
    main()
