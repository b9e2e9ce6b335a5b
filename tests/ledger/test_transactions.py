"""Both gas strategies send the same calls and refuse the same way."""

from __future__ import annotations

import pytest

from dain.ledger import TOKEN_UNIT, ChainCaller, TransactionRefused
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
