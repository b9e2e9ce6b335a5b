"""The chain clock follows the pending block's time, also between blocks."""

from __future__ import annotations

from dain.ledger import EmbeddedChain, RpcChain
from dain.ledger.anvil import AnvilProcess
from dain.node.clock import ChainClock


def test_sub_second_time_is_added_to_the_pending_timestamp() -> None:
    clock = ChainClock(lambda: 1_000, lambda: 500.25)
    assert clock.now() == 1_000.25


def test_follows_a_dev_chain_moved_forward_between_blocks(anvil: AnvilProcess) -> None:
    chain = RpcChain(anvil.url)
    chain.advance_time(3_600)
    before = chain.now()

    clock = ChainClock(lambda: int(chain.web3.eth.get_block("pending")["timestamp"]))

    assert before <= clock.now() < before + 5
    chain.mine(20)  # a burst of blocks does not move the clock ahead of the chain
    assert abs(clock.now() - chain.web3.eth.get_block("pending")["timestamp"]) < 1.01


def test_embedded_chain_time_travel_is_followed() -> None:
    chain = EmbeddedChain()
    chain.advance_time(10_000)
    clock = ChainClock(lambda: int(chain.web3.eth.get_block("pending")["timestamp"]))
    assert clock.now() >= chain.now()
