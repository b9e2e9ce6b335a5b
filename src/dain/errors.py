"""The root of every error a user can cause.

Each layer draws its own small tree under :class:`DainError` in its ``errors`` module::

    DainError
    ├── IdentityError         dain.identity   keys, keystores, DIDs, signatures
    ├── StorageError          dain.storage    blobs, content ids, tensor codec
    ├── DataError             dain.data       datasets, CSV files, manifests, policies
    ├── LearningError         dain.learning   models, shapes, aggregation
    ├── LedgerError           dain.ledger     chain access, refused transactions
    ├── NodeError             dain.node       envelopes, peers, the round protocol
    └── ConfigError           dain.cli        settings and command-line input

A message says what was wrong and what to do; context lives in attributes so that
handlers (CLI exit codes, HTTP responses) never parse messages.
"""

from __future__ import annotations


class DainError(Exception):
    """Something a user, a file or a peer got wrong, explained in plain words."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class ConfigError(DainError):
    """A setting or command-line value is missing or malformed."""
