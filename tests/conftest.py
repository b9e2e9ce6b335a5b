"""Shared fixtures: a fresh embedded chain with dain's contracts, and member factories."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from dain.data import AssetManifest, ConsentPolicy
from dain.devnet.network import admit_by_vote, pass_proposal
from dain.identity import Identity
from dain.ledger import (
    TOKEN_UNIT,
    ChainBackend,
    EmbeddedChain,
    JobTerms,
    Ledger,
    NetworkParams,
    ProposalState,
    RpcChain,
    deploy,
)
from dain.ledger.anvil import AnvilProcess

_counter = itertools.count()
FOUNDERS = 10  # members admitted at deployment; more join by vote, which takes a few blocks


def manifest(rows: int = 1_000, title: str | None = None) -> AssetManifest:
    """An asset manifest describing `rows` rows (no dataset behind it), distinct from every
    other unless given the same `title`."""
    name = title or f"asset {next(_counter)}"
    return AssetManifest(name, ("x",), "y", ("0", "1"), rows,
                         hashlib.sha256(name.encode()).hexdigest())  # fmt: skip


@dataclass
class ChainNet:
    """A deployed network and helpers to act in it as different members."""

    chain: ChainBackend
    root: Ledger
    params: NetworkParams
    members: list[Ledger] = field(default_factory=list)
    founders: list[Identity] = field(default_factory=list)  # admitted, not yet handed out

    def member(self, tokens: int = 1_000, *, delegate: bool = True) -> Ledger:
        """A new member: a founder admitted at deployment while any is left, then one
        admitted by the treasury's vote."""
        if self.founders:
            identity = self.founders.pop()
        else:
            identity = Identity.create()
            admit_by_vote(self.root, [identity.address])
        self.chain.fund(identity.address, 10**20)
        ledger = self.root.as_identity(identity)
        if tokens:
            self.root.token.transfer(identity.address, tokens * TOKEN_UNIT)
        if delegate:
            ledger.token.delegate()
        ledger.registry.register(f"mem://member-{next(_counter)}")
        self.members.append(ledger)
        return ledger

    def asset(
        self, owner: Ledger, policy: ConsentPolicy | None = None, *, rows: int = 1_000,
        **terms: Any,
    ) -> int:  # fmt: skip
        """A new asset of `owner`'s with `rows` rows; its policy allows 'diagnosis' unless
        told otherwise."""
        policy = policy or ConsentPolicy(**({"purposes": ("diagnosis",)} | terms))
        return owner.assets.register(manifest(rows), "bafkreimanifest", policy, "bafkreipolicy")

    def propose(self, requester: Ledger, pool: int = 100, **terms: Any) -> int:
        """A proposed job for 'diagnosis' with a `pool`-token reward pool."""
        job = JobTerms(
            **({"purpose": "diagnosis", "rounds": 3, "reward_pool": pool * TOKEN_UNIT,
                "spec_cid": "bafkreispec", "model_cid": "bafkreimodel"} | terms)
        )  # fmt: skip
        return requester.propose_job(job)

    def approve_job(self, job_id: int, voters: list[Ledger]) -> None:
        proposal = voters[0].gov.propose_job_approval(job_id)
        assert pass_proposal(self.root, proposal, voters) == ProposalState.EXECUTED

    def running_job(
        self,
        requester: Ledger,
        owners: list[Ledger],
        rounds: int = 3,
        pool: int = 100,
        **terms: Any,
    ) -> tuple[int, list[int]]:
        """A job that passed the vote, with one asset per owner enrolled, and started."""
        job_id = self.propose(requester, pool, rounds=rounds, **terms)
        self.approve_job(job_id, [requester])
        assets = []
        for owner in owners:
            asset = self.asset(owner)
            owner.jobs.enroll(job_id, asset)
            assets.append(asset)
        requester.jobs.start(job_id)
        return job_id, assets


@pytest.fixture(scope="session")
def anvil() -> Iterator[AnvilProcess]:
    """One anvil per test worker, stopped by its pid at the end of the session."""
    process = AnvilProcess.start()
    yield process
    process.stop()


@pytest.fixture(params=["embedded", "anvil"])
def chain(request: pytest.FixtureRequest) -> ChainBackend:
    """Every contract test runs on both backends; on anvil each test deploys afresh."""
    if request.param == "embedded":
        return EmbeddedChain()
    return RpcChain(request.getfixturevalue("anvil").url)


@pytest.fixture
def chain_net(chain: ChainBackend) -> ChainNet:
    params = NetworkParams(
        voting_delay=1, voting_period=5, quorum_percent=4, token_supply=100_000 * TOKEN_UNIT
    )
    treasury = Identity.create()
    chain.fund(treasury.address, 10**20)
    founders = [Identity.create() for _ in range(FOUNDERS)]
    deployment = deploy(chain.web3, treasury, params, founders=[f.address for f in founders],
                        gas_limit=chain.gas_limit)  # fmt: skip
    return ChainNet(chain, Ledger(chain, deployment, treasury), params, founders=founders)


@pytest.fixture
def make_identity() -> Callable[[], Identity]:
    return Identity.create
