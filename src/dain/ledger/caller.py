"""The one door from dain's typed clients to the chain.

Every request a client makes (a contract's view, a log search, a block's time, a
transaction) goes through a `ChainCaller`, which names it in plain words and runs it
guarded: when the chain or the way to it fails, the caller raises a LedgerError that says
what dain was doing ("Cannot reach the chain while trying to read the job (connection
refused)"); a bug in dain (a wrong argument type, a KeyError) passes through as itself.
Which failures are the chain's is decided in failures.py.
"""

from __future__ import annotations

from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.types import BlockIdentifier

from dain.costs import span
from dain.identity import Identity
from dain.ledger.events import E
from dain.ledger.failures import guarded
from dain.ledger.transactions import Sent, TransactionSender


class ChainCaller:
    """Reads and sends as one identity. `gas_limit` and `call_block` as in ChainBackend."""

    def __init__(
        self,
        web3: Web3,
        identity: Identity,
        *,
        chain_id: int | None = None,
        gas_limit: int | None = None,
        call_block: str = "latest",
    ) -> None:
        self._web3 = web3
        self.identity = identity
        self._chain_id = chain_id
        self._gas_limit = gas_limit
        self._call_block = call_block
        self._sender = TransactionSender(web3, identity, gas_limit=gas_limit, call_block=call_block)

    def as_identity(self, identity: Identity) -> ChainCaller:
        """The same chain, signing as someone else."""
        return ChainCaller(
            self._web3,
            identity,
            chain_id=self._chain_id,
            gas_limit=self._gas_limit,
            call_block=self._call_block,
        )

    @property
    def address(self) -> str:
        return self.identity.address

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            with guarded("read the chain id"):
                self._chain_id = int(self._web3.eth.chain_id)
        return self._chain_id

    @property
    def did(self) -> str:
        return self.identity.did(self.chain_id)

    def read(self, what: str, fn: ContractFunction) -> Any:
        """A contract's view, e.g. read("the job", jobs.functions.job(7))."""
        with guarded(f"read {what}"):
            return fn.call({"from": self.identity.address})

    def send(self, call: str, fn: Any, *, value: int = 0) -> Sent:
        """A transaction, e.g. send("enroll the asset", jobs.functions.enroll(...))."""
        return self._sender.send(call, fn, value=value)

    def events(
        self,
        what: str,
        contract: Contract,
        kind: type[E],
        filters: dict[str, Any] | None = None,
        *,
        from_block: int = 0,
        to_block: int | None = None,
    ) -> list[E]:
        """Every event of one type the contract emitted, oldest first, in blocks `from_block`
        to `to_block` (the latest: None); `filters` match the event's arguments (a list
        matches any of its values). Decoding runs outside the guard: a bug in it stays a bug."""
        event = getattr(contract.events, kind.EVENT)()
        with span("chain_read"):  # decoding the logs is part of reading them
            with guarded(f"read {what}"):
                logs = event.get_logs(argument_filters=filters or None, from_block=from_block,
                                      to_block=to_block)  # fmt: skip
            return [kind.from_log(log) for log in logs]

    def transaction_input(self, transaction_hash: bytes) -> bytes:
        """The call data a mined transaction carried."""
        with guarded("read a transaction"):
            return bytes(self._web3.eth.get_transaction(transaction_hash)["input"])

    def block_number(self) -> int:
        with guarded("read the latest block number"):
            return int(self._web3.eth.block_number)

    def block_time(self, block: BlockIdentifier) -> int:
        """A block's timestamp; "pending" is the next block's, the chain's now between blocks."""
        with guarded(f"read the time of block {block}"):
            return int(self._web3.eth.get_block(block)["timestamp"])

    def code(self, address: str) -> bytes:
        with guarded(f"read the code at {address}"):
            return bytes(self._web3.eth.get_code(address))  # type: ignore[arg-type]

    def balance(self, address: str) -> int:
        """Native currency (gas money) in wei."""
        with guarded(f"read the balance of {address}"):
            return int(self._web3.eth.get_balance(address))  # type: ignore[arg-type]

    def transactions_sent(self, address: str) -> int:
        """How many transactions `address` has had mined: its next nonce."""
        with guarded(f"read the transaction count of {address}"):
            return int(self._web3.eth.get_transaction_count(address))  # type: ignore[arg-type]
