"""Chain backends: where transactions go. One client runs on any of them.

`EmbeddedChain` runs py-evm in-process through web3.py's EthereumTesterProvider: no
service to start, a block per transaction. `RpcChain` talks JSON-RPC to anvil, geth,
Besu or an L2. Both implement the same small interface.
"""

from __future__ import annotations

from typing import Protocol

from web3 import Web3

from dain.ledger.errors import ChainUnavailable
from dain.ledger.failures import describe, guarded, translate


class ChainBackend(Protocol):
    name: str
    web3: Web3
    # None: ask the node to estimate each transaction's gas. A number: dry-run the call
    # to surface reverts, then send with this limit (only used gas is paid).
    gas_limit: int | None
    # the block dry runs and estimates run in; "pending" carries the next block's time
    call_block: str

    @property
    def chain_id(self) -> int: ...

    def mine(self, blocks: int = 1) -> None: ...

    def now(self) -> int: ...

    def block_number(self) -> int: ...

    def code(self, address: str) -> bytes: ...

    def advance_time(self, seconds: int) -> None: ...

    def fund(self, address: str, wei: int) -> None: ...


class EmbeddedChain:
    """A private chain inside this process (py-evm). Its state lives as long as the object."""

    name = "embedded"
    # py-evm estimates gas by binary search, re-running the transaction about a dozen
    # times; that was 40% of the demo's time. One dry run plus a fixed limit is exact here
    # because nothing else changes the chain between the dry run and the send.
    gas_limit: int | None = 15_000_000
    call_block = "latest"  # eth-tester does not estimate against "pending"

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

    def block_number(self) -> int:
        return int(self.web3.eth.block_number)

    def code(self, address: str) -> bytes:
        return bytes(self.web3.eth.get_code(address))  # type: ignore[arg-type]

    def fund(self, address: str, wei: int) -> None:
        tx = self.web3.eth.send_transaction({"from": self._faucet, "to": address, "value": wei})
        self.web3.eth.wait_for_transaction_receipt(tx, poll_latency=0.005)


class RpcChain:
    """Any EVM JSON-RPC endpoint: anvil locally, geth or Besu in a consortium, an L2.
    `mine`, `advance_time` and `fund` use the dev-node methods anvil and Hardhat offer."""

    name = "rpc"
    gas_limit: int | None = None  # a real node estimates fast and other senders race us
    call_block = "pending"  # deadlines pass between blocks: judge calls by the next block

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        from web3 import HTTPProvider
        from web3.types import RPCEndpoint

        self.url = url
        # web3 asks the chain id before and after every contract call; a node's id never
        # changes, so the provider answers those itself (two of three requests a read made)
        provider = HTTPProvider(url, request_kwargs={"timeout": timeout},
                                cache_allowed_requests=True,
                                cacheable_requests={RPCEndpoint("eth_chainId")})  # fmt: skip
        self.web3 = Web3(provider)
        try:
            self._chain_id = int(self.web3.eth.chain_id)
        except Exception as exc:
            if translate("read the chain id", exc) is None:
                raise  # a bug, not an absent node
            raise ChainUnavailable(
                f"No EVM node answers at {url} ({describe(exc)}).",
                call="read the chain id",
                hint="Start one with 'dain chain up', or check the URL.",
            ) from exc

    @property
    def chain_id(self) -> int:
        return self._chain_id

    def _dev(self, method: str, params: list[object]) -> object:
        with guarded(f"call {method}"):
            response = self.web3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in response:
            raise ChainUnavailable(
                f"The node at {self.url} does not support {method}: {response['error']}.",
                call=f"call {method}",
                hint="Mining, time travel and funding work only on development nodes (anvil).",
            )
        return response.get("result")

    def mine(self, blocks: int = 1) -> None:
        self._dev("anvil_mine", [hex(blocks)])

    def advance_time(self, seconds: int) -> None:
        self._dev("evm_increaseTime", [seconds])
        self._dev("evm_mine", [])

    def now(self) -> int:
        with guarded("read the latest block's time"):
            return int(self.web3.eth.get_block("latest")["timestamp"])

    def block_number(self) -> int:
        with guarded("read the latest block number"):
            return int(self.web3.eth.block_number)

    def code(self, address: str) -> bytes:
        """The contract code at `address`; empty where no contract is deployed."""
        with guarded(f"read the code at {address}"):
            return bytes(self.web3.eth.get_code(address))  # type: ignore[arg-type]

    def fund(self, address: str, wei: int) -> None:
        with guarded(f"read the balance of {address}"):
            balance = self.web3.eth.get_balance(address)  # type: ignore[arg-type]
        self._dev("anvil_setBalance", [address, hex(balance + wei)])
