"""Deploying dain's contracts and remembering where they are."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from web3 import Web3

from dain.identity import Identity
from dain.ledger.artifacts import load_artifact
from dain.ledger.caller import ChainCaller
from dain.ledger.errors import DeploymentError
from dain.ledger.units import TOKEN_UNIT

ZERO_ADDRESS = "0x" + "00" * 20


@dataclass(frozen=True)
class NetworkParams:
    """Governance settings fixed at deployment (later changed by proposal)."""

    voting_delay: int = 1  # blocks between a proposal and its vote opening
    voting_period: int = 20  # blocks the vote stays open
    quorum_percent: int = 4  # share of supply at the snapshot that must vote
    timelock_delay: int = 60  # seconds a passed proposal waits before it can execute
    token_supply: int = 1_000_000 * TOKEN_UNIT
    min_reward_pool: int = TOKEN_UNIT  # the smallest pool a job may offer (no free spam)
    max_assets_per_job: int = 256  # the most assets a job may take (the contract's ceiling)


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    token: str
    timelock: str
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
        # ValueError: not JSON, or an integer of thousands of digits
        except (ValueError, TypeError, RecursionError) as exc:
            raise DeploymentError(f"{path} is not a dain deployment record ({exc}).") from exc


def _deploy_one(caller: ChainCaller, web3: Web3, name: str, *args: object) -> str:
    artifact = load_artifact(name)
    factory = web3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    sent = caller.send(f"deploy {name}", factory.constructor(*args))
    address = sent.receipt["contractAddress"]
    if address is None:
        raise DeploymentError(f"Deploying {name} produced no contract address.")
    return Web3.to_checksum_address(address)


def deploy(
    web3: Web3,
    deployer: Identity,
    params: NetworkParams = NetworkParams(),
    *,
    founders: Sequence[str] = (),
    gas_limit: int | None = None,
) -> Deployment:
    """Deploys token, timelock, governor, registry, data assets and jobs, admits the
    `founders` (addresses) as the first members, and hands the timelock to the governor.
    The deployer holds the whole token supply at first (the network's treasury) and no role
    in any contract afterwards: members join and leave by vote. `gas_limit` as in
    ChainBackend."""
    caller = ChainCaller(web3, deployer, gas_limit=gas_limit)
    me = deployer.address
    token = _deploy_one(caller, web3, "DainToken", me, params.token_supply)
    timelock = _deploy_one(caller, web3, "DainTimelock", params.timelock_delay, me)
    governor = _deploy_one(
        caller,
        web3,
        "DainGovernor",
        token,
        timelock,
        params.voting_delay,
        params.voting_period,
        params.quorum_percent,
    )
    registry = _deploy_one(caller, web3, "Registry", timelock, list(founders))
    assets = _deploy_one(caller, web3, "DataAssets", registry)
    jobs = _deploy_one(caller, web3, "Jobs", token, assets, timelock, params.min_reward_pool,
                       params.max_assets_per_job)  # fmt: skip

    roles = web3.eth.contract(address=timelock, abi=load_artifact("DainTimelock").abi).functions
    for role, holder in (
        ("PROPOSER_ROLE", governor),
        ("CANCELLER_ROLE", governor),
        ("EXECUTOR_ROLE", ZERO_ADDRESS),  # anyone may execute what passed and waited
    ):
        role_id = caller.read(f"the timelock's {role}", getattr(roles, role)())
        caller.send(f"grant {role}", roles.grantRole(role_id, holder))
    # from here on only proposals that pass a vote and wait out the delay act as governance
    admin = caller.read("the timelock's admin role", roles.DEFAULT_ADMIN_ROLE())
    caller.send("renounce the timelock admin role", roles.renounceRole(admin, me))
    return Deployment(caller.chain_id, token, timelock, governor, registry, assets, jobs)
