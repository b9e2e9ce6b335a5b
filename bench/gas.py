"""Gas of every state-changing call dain makes, and of round records with 1, 10 and 50
receipts, measured on the embedded chain (gas is deterministic). The baseline in the same
run is the first round of each job, which pays one-time storage costs.

Prints one JSON line: {"calls": {...}, "round_record_gas": {"1":..,"10":..,"50":..}, ...}.
Target: at most 25,000 gas per receipt beyond a round record's base cost."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from dain.data import ConsentPolicy
from dain.devnet.network import pass_proposal
from dain.identity import Identity
from dain.ledger import (
    TOKEN_UNIT,
    EmbeddedChain,
    JobTerms,
    Ledger,
    NetworkParams,
    Receipt,
    Vote,
    deploy,
)

calls: dict[str, int] = {}


def measured(name: str, ledger: Ledger, action: Callable[[], Any]) -> Any:
    """Runs `action` (one transaction) and records its gas under `name`."""
    before = ledger.block_number()
    result = action()
    # the embedded chain mines one block per transaction: the last block holds this call
    # (a step that first approves tokens, like Ledger.propose_job, leaves that one block earlier)
    assert ledger.block_number() > before, name
    web3 = ledger.backend.web3  # a measuring tool reads receipts directly
    block = web3.eth.get_block("latest")
    receipt = web3.eth.get_transaction_receipt(block["transactions"][-1])
    assert receipt["from"] == ledger.address, name
    calls.setdefault(name, int(receipt["gasUsed"]))
    return result


def member(chain: EmbeddedChain, root: Ledger, tokens: int) -> Ledger:
    who = root.as_identity(Identity.create())
    chain.fund(who.address, 10**20)
    measured("registry.admit", root, lambda: root.registry.admit(who.address))
    if tokens:
        measured(
            "token.transfer", root, lambda: root.token.transfer(who.address, tokens * TOKEN_UNIT)
        )
        measured("token.delegate", who, lambda: who.token.delegate())
    # as `dain node start` does: an https endpoint and its certificate's fingerprint
    fingerprint = hashlib.sha256(who.address.encode()).digest()
    measured("registry.register", who,
             lambda: who.registry.register("https://127.0.0.1:9000", b"", fingerprint))  # fmt: skip
    return who


def round_gas(chain: EmbeddedChain, root: Ledger, requester: Ledger, size: int) -> tuple[int, int]:
    """Gas of round 1 and round 2 of a job with `size` assets, one receipt each."""
    owners = [member(chain, root, 0) for _ in range(size)]
    job_id = measured(
        "jobs.propose",
        requester,
        lambda: requester.propose_job(
            JobTerms(
                "diagnosis",
                3,
                100 * TOKEN_UNIT,
                "bafkreispec",
                "bafkreimodel",
                round_duration=10**6,
                max_epsilon=8.0,
            )
        ),
    )
    proposal = requester.gov.propose_job_approval(job_id)
    pass_proposal(root, proposal, [requester])
    assets = []
    for i, owner in enumerate(owners):
        digest = hashlib.sha256(f"asset-{size}-{i}".encode()).digest()
        policy = ConsentPolicy(("diagnosis", "research"), price_per_round=0, max_epsilon=8.0)
        assets.append(
            measured(
                "assets.register",
                owner,
                lambda o=owner, d=digest, p=policy: o.assets.register(
                    d, "bafkreimanifest", p, "bafkreipolicy"
                ),
            )
        )
        measured("jobs.enroll", owner, lambda o=owner, a=assets[-1]: o.jobs.enroll(job_id, a))
    measured("jobs.start", requester, lambda: requester.jobs.start(job_id))
    gas = []
    for rnd in (1, 2):
        receipts = [
            Receipt(job_id, rnd, a, 100, hashlib.sha256(f"{rnd}{a}".encode()).digest()).signed_by(
                o.identity, o.chain_id, o.jobs.address
            )
            for o, a in zip(owners, assets, strict=True)
        ]
        elected = next(o for o in owners if o.address == root.jobs.aggregator_of(job_id, rnd))
        sent = elected.jobs.record_round(job_id, rnd, "bafkrei" + "m" * 52, b"\1" * 32, receipts)
        gas.append(sent.gas_used)
    return gas[0], gas[1]


def main() -> None:
    chain = EmbeddedChain()
    treasury = Identity.create()
    chain.fund(treasury.address, 10**21)
    params = NetworkParams(voting_period=5, timelock_delay=1)
    root = Ledger(chain, deploy(chain.web3, treasury, params, gas_limit=chain.gas_limit), treasury)
    requester = member(chain, root, 100_000)

    first, steady = {}, {}
    for size in (1, 10, 50):
        first[str(size)], steady[str(size)] = round_gas(chain, root, requester, size)

    # the remaining calls, on a small job
    owner = member(chain, root, 10)
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
    asset = owner.assets.register(
        hashlib.sha256(b"x").digest(), "m", ConsentPolicy(("diagnosis",)), "p"
    )
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
    measured("jobs.complete", requester, lambda: requester.jobs.complete(job_id, {asset: 10_000}))
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
            }
        )
    )


if __name__ == "__main__":
    main()
