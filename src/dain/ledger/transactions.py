"""Sending contract calls as one identity: build, estimate, sign locally, send, confirm.
Reverts are translated here, where they enter dain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from dain.identity import Identity
from dain.ledger.errors import ChainUnavailable, TransactionRefused
from dain.ledger.revert import refusal

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

    def call(self, name: str, fn: ContractFunction) -> Any:
        try:
            return fn.call({"from": self.identity.address})
        except Exception as exc:
            raise self._translate(name, exc) from exc

    def send(self, name: str, fn: ContractFunction, *, value: int = 0) -> Sent:
        address = self.identity.address
        params: dict[str, object] = {
            "from": address,
            "value": value,
            "nonce": self.web3.eth.get_transaction_count(address, "pending"),
        }
        try:
            if self.gas_limit is None:
                # estimates sit at the edge: with storage refunds (clearing a slot) anvil's
                # estimate ran out of gas 400 below it, so leave headroom (unused gas is not paid)
                # on a node, "pending": the next block's time, which deadlines are judged by
                estimate = fn.estimate_gas({"from": address, "value": value}, self.call_block)  # type: ignore[arg-type]
                params["gas"] = int(estimate * 1.25) + 20_000
            else:
                params["gas"] = self.gas_limit
            tx = fn.build_transaction(params)  # type: ignore[arg-type]
            if self.gas_limit is not None:  # dry run once, so reverts surface before sending
                self.web3.eth.call(_call_fields(tx), self.call_block)
        except Exception as exc:  # estimation or the dry run runs the call: reverts surface here
            raise self._translate(name, exc) from exc
        signed = self.identity.account.sign_transaction(tx)
        try:
            tx_hash = self.web3.eth.send_raw_transaction(signed.raw_transaction)
            receipt = self.web3.eth.wait_for_transaction_receipt(
                tx_hash, poll_latency=self.poll_latency
            )
        except Exception as exc:
            raise self._translate(name, exc) from exc
        if receipt["status"] != 1:
            # the state moved between the dry run and the block (a vote closing, say):
            # replaying the call now usually recovers the contract's reason
            try:
                self.web3.eth.call(_call_fields(tx), self.call_block)
            except Exception as exc:
                refused = refusal(name, exc)
                if refused is not None:
                    refused.tx_hash = tx_hash.hex()
                    raise refused from exc
            raise TransactionRefused(
                f"The chain reverted {name} (transaction {tx_hash.hex()}).",
                call=name,
                reason="Reverted",
                tx_hash=tx_hash.hex(),
            )
        return Sent(tx_hash.hex(), receipt)

    @staticmethod
    def _translate(name: str, exc: Exception) -> Exception:
        refused = refusal(name, exc)
        if refused is not None:
            return refused
        if isinstance(exc, (ConnectionError, OSError)):
            return ChainUnavailable(f"Cannot reach the chain while sending {name} ({exc}).")
        return TransactionRefused(
            f"The chain refused {name}: {exc}.", call=name, reason=type(exc).__name__
        )
