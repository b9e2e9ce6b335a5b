"""Ledger errors.

LedgerError
├── ChainUnavailable     the chain cannot be reached or is not the expected one
├── DeploymentError      the contracts are missing or their addresses are unknown
└── TransactionRefused   a contract refused a call; `reason` is the Solidity error name,
                         `args` its decoded arguments, `call` what dain tried to do
"""

from __future__ import annotations

from typing import Any

from dain.errors import DainError


class LedgerError(DainError):
    pass


class ChainUnavailable(LedgerError):
    pass


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
