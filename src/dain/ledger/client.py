"""The typed ledger client: the only door from dain to the chain.

`Ledger` binds a backend, a deployment and one identity. Its parts (`token`, `gov`,
`registry`, `assets`, `jobs`) each hold their contract and the one `ChainCaller` every
request goes through, and expose one typed method per contract call. Steps that span
contracts, such as approving the reward pool and then proposing a job, live here.
"""

from __future__ import annotations

from dataclasses import dataclass

from web3.contract import Contract

from dain.identity import Identity
from dain.ledger.artifacts import load_artifact
from dain.ledger.assets import AssetsClient
from dain.ledger.backend import ChainBackend
from dain.ledger.caller import ChainCaller
from dain.ledger.deployment import Deployment
from dain.ledger.errors import ChainUnavailable
from dain.ledger.governance import GovernanceClient, TokenClient
from dain.ledger.jobs import JobsClient, JobTerms
from dain.ledger.registry import RegistryClient


@dataclass(frozen=True)
class Contracts:
    token: Contract
    timelock: Contract
    governor: Contract
    registry: Contract
    assets: Contract
    jobs: Contract


class Ledger:
    def __init__(self, backend: ChainBackend, deployment: Deployment, identity: Identity) -> None:
        if backend.chain_id != deployment.chain_id:
            raise ChainUnavailable(
                f"The chain has id {backend.chain_id}, but the contracts were deployed on "
                f"chain {deployment.chain_id}.",
                hint="Point dain at the chain the network was deployed on.",
            )
        self.backend = backend
        self.deployment = deployment
        self.identity = identity
        self.caller = ChainCaller(
            backend.web3,
            identity,
            chain_id=deployment.chain_id,
            gas_limit=backend.gas_limit,
            call_block=backend.call_block,
        )

        def bind(name: str, address: str) -> Contract:
            return backend.web3.eth.contract(address=address, abi=load_artifact(name).abi)

        c = self.contracts = Contracts(
            token=bind("DainToken", deployment.token),
            timelock=bind("DainTimelock", deployment.timelock),
            governor=bind("DainGovernor", deployment.governor),
            registry=bind("Registry", deployment.registry),
            assets=bind("DataAssets", deployment.assets),
            jobs=bind("Jobs", deployment.jobs),
        )
        self.token = TokenClient(c.token, self.caller)
        self.gov = GovernanceClient(
            c.governor, self.caller, timelock=c.timelock, jobs=c.jobs, registry=c.registry
        )
        self.registry = RegistryClient(c.registry, self.caller)
        self.assets = AssetsClient(c.assets, self.caller)
        self.jobs = JobsClient(c.jobs, self.caller, self.assets)

    def as_identity(self, identity: Identity) -> Ledger:
        """The same chain and contracts, signing as someone else."""
        return Ledger(self.backend, self.deployment, identity)

    @property
    def chain_id(self) -> int:
        return self.deployment.chain_id

    @property
    def address(self) -> str:
        return self.identity.address

    @property
    def did(self) -> str:
        return self.identity.did(self.chain_id)

    def propose_job(self, terms: JobTerms) -> int:
        """Approves the Jobs contract to take the reward pool, then proposes the job (which
        escrows it); returns the job's id. Two transactions: if the proposal is refused, the
        approval stays until the next one replaces it."""
        self.token.approve(self.jobs.address, terms.reward_pool)
        return self.jobs.propose(terms)

    def block_number(self) -> int:
        return self.caller.block_number()

    def block_time(self, block: int) -> int:
        return self.caller.block_time(block)

    def pending_time(self) -> int:
        """The timestamp the next block will carry: the chain's now, between blocks."""
        return self.caller.block_time("pending")

    def now(self) -> int:
        """The chain's time (latest block timestamp), which consent expiry is judged by."""
        return self.caller.block_time("latest")

    def gas_balance(self, address: str | None = None) -> int:
        """Native currency (wei) an account holds to pay for gas; this identity's by default."""
        return self.caller.balance(address or self.address)
