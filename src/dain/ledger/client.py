"""The typed ledger client: the only door from dain to the chain.

`Ledger` binds a backend, a deployment and one identity; its parts (`token`, `gov`,
`registry`, `assets`, `jobs`) expose one typed method per contract call.
"""

from __future__ import annotations

from dataclasses import dataclass

from web3.contract import Contract

from dain.identity import Identity
from dain.ledger.artifacts import load_artifact
from dain.ledger.assets import AssetsClient, RegistryClient
from dain.ledger.backend import ChainBackend
from dain.ledger.deploy import Deployment
from dain.ledger.errors import ChainUnavailable
from dain.ledger.governance import GovernanceClient, TokenClient
from dain.ledger.jobs import JobsClient
from dain.ledger.transactions import TransactionSender


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
        self.web3 = backend.web3
        self.deployment = deployment
        self.identity = identity
        self.sender = TransactionSender(
            self.web3, identity, gas_limit=backend.gas_limit, call_block=backend.call_block
        )

        def bind(name: str, address: str) -> Contract:
            return self.web3.eth.contract(address=address, abi=load_artifact(name).abi)

        self.contracts = Contracts(
            token=bind("DainToken", deployment.token),
            timelock=bind("DainTimelock", deployment.timelock),
            governor=bind("DainGovernor", deployment.governor),
            registry=bind("Registry", deployment.registry),
            assets=bind("DataAssets", deployment.assets),
            jobs=bind("Jobs", deployment.jobs),
        )
        self.token = TokenClient(self)
        self.gov = GovernanceClient(self)
        self.registry = RegistryClient(self)
        self.assets = AssetsClient(self)
        self.jobs = JobsClient(self)

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

    def block_number(self) -> int:
        return int(self.web3.eth.block_number)

    def pending_time(self) -> int:
        """The timestamp the next block will carry: the chain's now, between blocks."""
        return int(self.web3.eth.get_block("pending")["timestamp"])

    def now(self) -> int:
        """The chain's time (latest block timestamp), which consent expiry is judged by."""
        return int(self.web3.eth.get_block("latest")["timestamp"])
