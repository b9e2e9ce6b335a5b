"""Ledger errors.

LedgerError
├── ChainUnavailable     the chain cannot be reached, did not answer, or is not the expected
│                        one; `call` names what dain was doing, `tx_hash` a transaction
│                        that was sent but not confirmed
├── DeploymentError      the contracts are missing or their addresses are unknown
└── TransactionRefused   the chain refused a call: a contract reverted (`reason` is the
                         Solidity error name, `args` its decoded arguments) or the node
                         rejected the transaction; `call` is what dain tried to do
"""

from __future__ import annotations

from typing import Any

from dain.errors import DainError


class LedgerError(DainError):
    pass


class ChainUnavailable(LedgerError):
    def __init__(
        self,
        message: str,
        *,
        call: str | None = None,
        tx_hash: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.call = call
        self.tx_hash = tx_hash


class DeploymentError(LedgerError):
    pass


class TransactionRefused(LedgerError):
    def __init__(
        self,
        message: str,
        *,
        call: str,
        reason: str,
        args: tuple[Any, ...] = (),
        tx_hash: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.call = call
        self.reason = reason
        self.args_decoded = args
        self.tx_hash = tx_hash
