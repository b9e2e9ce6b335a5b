"""Deploying dain's contracts and remembering where they are."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from eth_abi import encode
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
class DeployedContract:
    """How one contract came to be: the block where reading its events can start, and
    what a block explorer needs to verify its source (the constructor's arguments, also
    ABI-encoded as verification services take them)."""

    contract: str  # the Solidity contract's name, e.g. "DainToken"
    address: str
    block: int
    tx_hash: str
    constructor_args: tuple[Any, ...]  # addresses as checksummed text, lists as tuples
    constructor_args_abi: str  # 0x hex

    def to_json(self) -> dict[str, Any]:
        return asdict(self)  # tuples become JSON lists

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeployedContract:
        return cls(**data | {"constructor_args": _frozen(data["constructor_args"])})


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    token: str
    timelock: str
    governor: str
    registry: str
    assets: str
    jobs: str
    # by role ("token", ...); empty in records written before dain kept them
    contracts: tuple[tuple[str, DeployedContract], ...] = ()

    @property
    def deploy_block(self) -> int | None:
        """The block of the first contract: nothing of this network's is older."""
        return min((c.block for _, c in self.contracts), default=None)

    def contract(self, role: str) -> DeployedContract | None:
        return dict(self.contracts).get(role)

    def save(self, path: Path) -> None:
        record = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "contracts"}
        record["deploy_block"] = self.deploy_block
        record["contracts"] = {role: c.to_json() for role, c in self.contracts}
        path.write_text(json.dumps(record, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Deployment:
        try:
            record = json.loads(path.read_text())
            record.pop("deploy_block", None)  # derived from the contracts' blocks
            contracts = record.pop("contracts", {})
            return cls(
                **record,
                contracts=tuple(
                    (role, DeployedContract.from_json(c)) for role, c in contracts.items()
                ),
            )
        except FileNotFoundError as exc:
            raise DeploymentError(
                f"No deployment record at {path}.", hint="Deploy the contracts first."
            ) from exc
        # ValueError: not JSON, or an integer of thousands of digits; the rest: not a record
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            raise DeploymentError(f"{path} is not a dain deployment record ({exc}).") from exc


def _frozen(value: Any) -> Any:
    return tuple(_frozen(v) for v in value) if isinstance(value, list | tuple) else value


def _deploy_one(caller: ChainCaller, web3: Web3, name: str, *args: Any) -> DeployedContract:
    artifact = load_artifact(name)
    factory = web3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    sent = caller.send(f"deploy {name}", factory.constructor(*args))
    address = sent.receipt["contractAddress"]
    if address is None:
        raise DeploymentError(f"Deploying {name} produced no contract address.")
    (constructor,) = [entry for entry in artifact.abi if entry["type"] == "constructor"]
    encoded = encode([i["type"] for i in constructor["inputs"]], list(args))
    return DeployedContract(
        name,
        Web3.to_checksum_address(address),
        sent.block_number,
        "0x" + sent.tx_hash.removeprefix("0x"),
        _frozen(args),
        "0x" + encoded.hex(),
    )


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
    deployed: dict[str, DeployedContract] = {}

    def one(role: str, name: str, *args: Any) -> str:
        deployed[role] = _deploy_one(caller, web3, name, *args)
        return deployed[role].address

    token = one("token", "DainToken", me, params.token_supply)
    timelock = one("timelock", "DainTimelock", params.timelock_delay, me)
    governor = one("governor", "DainGovernor", token, timelock, params.voting_delay,
                   params.voting_period, params.quorum_percent)  # fmt: skip
    registry = one("registry", "Registry", timelock, list(founders))
    assets = one("assets", "DataAssets", registry)
    jobs = one("jobs", "Jobs", token, assets, timelock, params.min_reward_pool,
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
    return Deployment(caller.chain_id, token, timelock, governor, registry, assets, jobs,
                      tuple(deployed.items()))  # fmt: skip
