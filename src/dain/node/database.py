"""The node's SQLite databases (state, blob index, evaluations) opened one way: shared by the
request threads and the runner, in autocommit, waiting up to 10 s on a lock another process
holds (the command line reads a home's state while its node runs)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_database(path: Path | str, schema: str) -> sqlite3.Connection:
    """A connection to `path` (":memory:" for none) with `schema`'s tables made if missing."""
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
    connection.executescript(schema)
    return connection
