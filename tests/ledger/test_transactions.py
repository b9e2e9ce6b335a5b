"""Both gas strategies send the same calls and refuse the same way."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from dain.identity import Identity
from dain.ledger import (
    TOKEN_UNIT,
    ChainCaller,
    Ledger,
    NetworkParams,
    RpcChain,
    TransactionRefused,
    deploy,
)
from dain.ledger.anvil import AnvilProcess
from tests.conftest import ChainNet


@pytest.mark.parametrize("gas_limit", [None, 15_000_000], ids=["estimated", "fixed-after-dry-run"])
def test_send_and_refusal_with_each_gas_strategy(
    chain_net: ChainNet, gas_limit: int | None
) -> None:
    member = chain_net.member(10)
    caller = ChainCaller(chain_net.chain.web3, member.identity, gas_limit=gas_limit)
    token = member.contracts.token.functions
    nonce = caller.transactions_sent(member.address)

    sent = caller.send("transfer tokens", token.transfer(chain_net.root.address, 4 * TOKEN_UNIT))
    with pytest.raises(TransactionRefused) as refused:
        caller.send("transfer tokens", token.transfer(chain_net.root.address, 100 * TOKEN_UNIT))

    assert sent.gas_used > 21_000
    assert member.token.balance_of(member.address) == 6 * TOKEN_UNIT
    assert refused.value.reason == "ERC20InsufficientBalance"
    # the refused call never became a transaction: only one nonce was used
    assert caller.transactions_sent(member.address) == nonce + 1


def test_one_key_sending_from_many_threads_loses_no_transaction(anvil: AnvilProcess) -> None:
    """A node's threads (its runner recording a round, its dashboard revoking consent) send
    with one key at once: each must get a nonce of its own, and every transfer lands."""
    chain = RpcChain(anvil.url)
    treasury = Identity.create()
    chain.fund(treasury.address, 10**20)
    params = NetworkParams(voting_delay=1, voting_period=5, quorum_percent=4,
                           token_supply=100_000 * TOKEN_UNIT)  # fmt: skip
    ledger = Ledger(chain, deploy(chain.web3, treasury, params, gas_limit=chain.gas_limit),
                    treasury)  # fmt: skip
    payee = Identity.create().address
    sends = 12

    with ThreadPoolExecutor(sends) as pool:
        failures = [f.exception() for f in [pool.submit(ledger.token.transfer, payee, TOKEN_UNIT)
                                            for _ in range(sends)]]  # fmt: skip

    assert failures == [None] * sends
    assert ledger.token.balance_of(payee) == sends * TOKEN_UNIT
