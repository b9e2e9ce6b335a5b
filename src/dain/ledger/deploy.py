"""Deploying dain's contracts and remembering where they are."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from web3 import Web3

from dain.identity import Identity
from dain.ledger.artifacts import load_artifact
from dain.ledger.errors import DeploymentError
from dain.ledger.transactions import TransactionSender

TOKEN_UNIT = 10**18


@dataclass(frozen=True)
class NetworkParams:
    """Governance settings fixed at deployment (later changed by proposal)."""

    voting_delay: int = 1  # blocks between a proposal and its vote opening
    voting_period: int = 20  # blocks the vote stays open
    quorum_percent: int = 4  # share of supply at the snapshot that must vote
    token_supply: int = 1_000_000 * TOKEN_UNIT


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    token: str
    governor: str
    registry: str
    assets: str
    jobs: str

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Deployment:
        try:
            return cls(**json.loads(path.read_text()))
        except FileNotFoundError as exc:
            raise DeploymentError(
                f"No deployment record at {path}.", hint="Deploy the contracts first."
            ) from exc
        except (json.JSONDecodeError, TypeError) as exc:
            raise DeploymentError(f"{path} is not a dain deployment record ({exc}).") from exc


def _deploy_one(sender: TransactionSender, name: str, *args: object) -> str:
    artifact = load_artifact(name)
    factory = sender.web3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    sent = sender.send(f"deploy {name}", factory.constructor(*args))
    address = sent.receipt["contractAddress"]
    if address is None:
        raise DeploymentError(f"Deploying {name} produced no contract address.")
    return Web3.to_checksum_address(address)


def deploy(
    web3: Web3,
    deployer: Identity,
    params: NetworkParams = NetworkParams(),
    *,
    gas_limit: int | None = None,
) -> Deployment:
    """Deploys token, governor, registry, data assets and jobs; the deployer holds the
    whole token supply at first (the network's treasury). `gas_limit` as in ChainBackend."""
    sender = TransactionSender(web3, deployer, gas_limit=gas_limit)
    token = _deploy_one(sender, "DainToken", deployer.address, params.token_supply)
    governor = _deploy_one(
        sender,
        "DainGovernor",
        token,
        params.voting_delay,
        params.voting_period,
        params.quorum_percent,
    )
    registry = _deploy_one(sender, "Registry")
    assets = _deploy_one(sender, "DataAssets")
    jobs = _deploy_one(sender, "Jobs", token, assets, governor)
    return Deployment(web3.eth.chain_id, token, governor, registry, assets, jobs)
