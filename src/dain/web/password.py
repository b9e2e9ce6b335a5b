"""Logging in with the node's keystore password instead of the access token: whoever knows
the password that unlocks the node's key may act with it anyway. The keystore's scrypt makes
each guess cost a second or so of CPU, one guess runs at a time, and after `MAX_MISSES`
wrong guesses in a row password logins pause for `PAUSE_SECONDS`: guessing online stays
slow and cannot tie up the node's cores. The access token still works during a pause."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from threading import Lock

from dain.errors import DainError
from dain.identity import Identity, IdentityError

MAX_MISSES = 5
PAUSE_SECONDS = 60.0
MAX_PASSWORD_CHARS = 1024  # a keystore password is typed by a person


class Paused(DainError):
    """Password logins are paused after too many wrong guesses."""


class PasswordLogin:
    def __init__(self, keystore: Path, address: str,
                 now: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self._keystore = keystore
        self._address = address.lower()
        self._now = now
        self._lock = Lock()  # one scrypt run at a time
        self._misses = 0
        self._paused_until = 0.0

    def matches(self, password: str) -> bool:
        """Whether `password` unlocks the node's own key. Raises `Paused` while paused."""
        with self._lock:
            left = self._paused_until - self._now()
            if left > 0:
                raise Paused(
                    f"Too many wrong passwords: password login is paused for {left:.0f} s.",
                    hint="Wait, or log in with the access token 'dain node start' printed.",
                )
            if not password or len(password) > MAX_PASSWORD_CHARS:
                return False
            try:
                opened = Identity.load_keystore(self._keystore, password)
                right = opened.address.lower() == self._address
            except (IdentityError, OSError):
                right = False
            if right:
                self._misses = 0
            else:
                self._misses += 1
                if self._misses >= MAX_MISSES:
                    self._misses = 0
                    self._paused_until = self._now() + PAUSE_SECONDS
            return right
