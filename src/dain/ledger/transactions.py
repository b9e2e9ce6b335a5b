"""Sending a contract call as one identity: build, estimate, sign locally, send, confirm.

Each request to the chain runs guarded (see failures.py): reverts and the node's refusals
become TransactionRefused, an unreachable node ChainUnavailable. Signing is local and not
guarded: a failure there is a bug in dain."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from web3 import Web3
from web3.types import TxParams, TxReceipt

from dain.costs import timed
from dain.identity import Identity
from dain.ledger.errors import LedgerError, TransactionRefused
from dain.ledger.failures import guarded
from dain.ledger.formats import format_hash

_CALL_FIELDS = ("from", "to", "data", "value", "gas")


def _call_fields(tx: Any) -> Any:
    return {k: v for k, v in tx.items() if k in _CALL_FIELDS}


@dataclass(frozen=True)
class Sent:
    tx_hash: str
    receipt: TxReceipt

    @property
    def gas_used(self) -> int:
        return int(self.receipt["gasUsed"])

    @property
    def block_number(self) -> int:
        return int(self.receipt["blockNumber"])


class TransactionSender:
    """Signs with the identity's own key; the node never hands its key to the chain."""

    def __init__(
        self,
        web3: Web3,
        identity: Identity,
        *,
        gas_limit: int | None = None,
        call_block: str = "latest",
        poll_latency: float = 0.01,
    ) -> None:
        self.web3 = web3
        self.identity = identity
        self.gas_limit = gas_limit  # None: estimate per transaction
        self.call_block = call_block  # the block whose time dry runs and estimates use
        self.poll_latency = poll_latency

    @timed("chain_tx")  # whole: signing and waiting for our turn as well as the requests
    def send(self, call: str, fn: Any, *, value: int = 0) -> Sent:
        """Sends `fn` (a contract function or constructor); `call` says what it does, as a
        verb phrase ("enroll the asset") that messages name."""
        # one key's threads take turns from reading the nonce to handing the transaction
        # over (not while it is mined): each gets a nonce of its own
        with _turn(self.identity.address):
            with guarded(call, sending=True):  # estimation or the dry run runs the call
                tx = self._build(fn, value)
            signed = self.identity.account.sign_transaction(tx)
            with guarded(call, sending=True):
                sent_hash = self.web3.eth.send_raw_transaction(signed.raw_transaction)
        tx_hash = format_hash(sent_hash)
        with guarded(call, sending=True, tx_hash=tx_hash):
            receipt = self.web3.eth.wait_for_transaction_receipt(
                sent_hash, poll_latency=self.poll_latency
            )
        if receipt["status"] != 1:
            raise self._reverted(call, tx, tx_hash)
        return Sent(tx_hash, receipt)

    def _build(self, fn: Any, value: int) -> TxParams:
        address = self.identity.address
        params: dict[str, object] = {
            "from": address,
            "value": value,
            "nonce": self.web3.eth.get_transaction_count(address, "pending"),
        }
        if self.gas_limit is None:
            # estimates sit at the edge: with storage refunds (clearing a slot) anvil's
            # estimate ran out of gas 400 below it, so leave headroom (unused gas is not paid)
            # on a node, "pending": the next block's time, which deadlines are judged by
            estimate = fn.estimate_gas({"from": address, "value": value}, self.call_block)
            params["gas"] = int(estimate * 1.25) + 20_000
        else:
            params["gas"] = self.gas_limit
        tx: TxParams = fn.build_transaction(params)
        if self.gas_limit is not None:  # dry run once, so reverts surface before sending
            self.web3.eth.call(_call_fields(tx), self.call_block)
        return tx

    def _reverted(self, call: str, tx: TxParams, tx_hash: str) -> LedgerError:
        """Why a mined transaction failed. The state moved between the dry run and the block
        (a vote closing, say): replaying the call now usually recovers the contract's reason."""
        try:
            with guarded(call, sending=True, tx_hash=tx_hash):
                self.web3.eth.call(_call_fields(tx), self.call_block)
        except TransactionRefused as refused:
            if refused.reason != "Reverted":
                return refused
        except LedgerError:
            pass  # the replay could not run: the receipt still says it reverted
        return TransactionRefused(
            f"The chain reverted the transaction to {call} ({tx_hash}).",
            call=call,
            reason="Reverted",
            tx_hash=tx_hash,
        )


_TURNS: dict[str, threading.Lock] = {}
_TURNS_GUARD = threading.Lock()


def _turn(address: str) -> threading.Lock:
    """The lock that orders this process's sends from `address`. Another process sending
    with the same key (the CLI beside a running node) can still take the same nonce: the
    chain's node refuses the second, and the error says so."""
    with _TURNS_GUARD:
        return _TURNS.setdefault(address.lower(), threading.Lock())
