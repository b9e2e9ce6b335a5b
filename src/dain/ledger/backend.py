"""Chain backends: where transactions go. One client runs on any of them.

`EmbeddedChain` runs py-evm in-process through web3.py's EthereumTesterProvider: no
service to start, a block per transaction. Other backends (JSON-RPC to anvil, geth or an
L2) implement the same small interface.
"""

from __future__ import annotations

from typing import Protocol

from web3 import Web3


class ChainBackend(Protocol):
    name: str
    web3: Web3
    # None: ask the node to estimate each transaction's gas. A number: dry-run the call
    # to surface reverts, then send with this limit (only used gas is paid).
    gas_limit: int | None

    @property
    def chain_id(self) -> int: ...

    def mine(self, blocks: int = 1) -> None: ...

    def advance_time(self, seconds: int) -> None: ...

    def fund(self, address: str, wei: int) -> None: ...


class EmbeddedChain:
    """A private chain inside this process (py-evm). Its state lives as long as the object."""

    name = "embedded"
    # py-evm estimates gas by binary search, re-running the transaction about a dozen
    # times; that was 40% of the demo's time. One dry run plus a fixed limit is exact here
    # because nothing else changes the chain between the dry run and the send.
    gas_limit: int | None = 15_000_000

    def __init__(self) -> None:
        from eth_tester import EthereumTester, PyEVMBackend
        from web3 import EthereumTesterProvider

        self._tester = EthereumTester(PyEVMBackend())
        self.web3 = Web3(EthereumTesterProvider(self._tester))
        self._chain_id = self.web3.eth.chain_id
        self._faucet = self.web3.eth.accounts[0]
        # calls without "from" would otherwise list every test account each time
        self.web3.eth.default_account = self._faucet

    @property
    def chain_id(self) -> int:
        return self._chain_id

    def mine(self, blocks: int = 1) -> None:
        self._tester.mine_blocks(blocks)

    def advance_time(self, seconds: int) -> None:
        latest = self.web3.eth.get_block("latest")["timestamp"]
        self._tester.time_travel(int(latest) + seconds)

    def now(self) -> int:
        return int(self.web3.eth.get_block("latest")["timestamp"])

    def fund(self, address: str, wei: int) -> None:
        tx = self.web3.eth.send_transaction({"from": self._faucet, "to": address, "value": wei})
        self.web3.eth.wait_for_transaction_receipt(tx, poll_latency=0.005)
