"""deployment.json records, for each contract, the block it was deployed in and the
arguments its constructor took, plain and ABI-encoded (what a block explorer's source
verification asks for), checked against the chain's own transactions."""

from __future__ import annotations

import json
from pathlib import Path

from dain.ledger import Deployment
from tests.conftest import ChainNet

ROLES = ("token", "timelock", "governor", "registry", "assets", "jobs")


def test_each_contract_records_its_block_and_constructor_arguments(chain_net: ChainNet) -> None:
    deployment = chain_net.root.deployment
    web3 = chain_net.chain.web3

    for role in ROLES:
        contract = deployment.contract(role)
        assert contract is not None and contract.address == getattr(deployment, role)
        transaction = web3.eth.get_transaction(contract.tx_hash)
        receipt = web3.eth.get_transaction_receipt(contract.tx_hash)

        assert receipt["contractAddress"] == contract.address
        assert receipt["blockNumber"] == contract.block
        # a creation's input is the bytecode followed by the encoded arguments
        assert bytes(transaction["input"]).endswith(
            bytes.fromhex(contract.constructor_args_abi[2:])
        )
    assert deployment.deploy_block == deployment.contract("token").block  # type: ignore[union-attr]
    token_args = deployment.contract("token").constructor_args  # type: ignore[union-attr]
    assert token_args == (chain_net.root.address, chain_net.params.token_supply)
    timelock = deployment.contract("timelock")
    assert timelock.constructor_args == (chain_net.params.timelock_delay, chain_net.root.address)  # type: ignore[union-attr]


def test_the_record_is_readable_json_and_round_trips(chain_net: ChainNet, tmp_path: Path) -> None:
    path = tmp_path / "deployment.json"
    chain_net.root.deployment.save(path)

    record = json.loads(path.read_text())

    assert record["deploy_block"] == chain_net.root.deployment.deploy_block
    assert set(record["contracts"]) == set(ROLES)
    assert record["contracts"]["jobs"]["contract"] == "Jobs"
    assert isinstance(record["contracts"]["registry"]["constructor_args"][1], list)  # founders
    assert Deployment.load(path) == chain_net.root.deployment


def test_a_record_from_before_the_contracts_were_kept_still_loads(
    chain_net: ChainNet, tmp_path: Path
) -> None:
    path = tmp_path / "old.json"
    record = json.loads(json.dumps({role: getattr(chain_net.root.deployment, role)
                                    for role in ("chain_id", *ROLES)}))  # fmt: skip
    path.write_text(json.dumps(record))

    old = Deployment.load(path)

    assert old.jobs == chain_net.root.deployment.jobs
    assert old.contracts == () and old.deploy_block is None
