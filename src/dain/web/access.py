"""Who may use the dashboard. It acts with the node's key, so everyone who reaches it must
show the local access token `dain node start` prints and keeps in the node's home (readable
by its owner only). Showing it on the login form opens a session: a random id in an
HttpOnly, SameSite=Strict cookie, kept in memory (a restart ends every session). Each form
carries a CSRF token bound to the session (an HMAC of its id under the access token), so a
page of another site cannot make the browser act, even with the cookie."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from threading import Lock

TOKEN_FILE = "dashboard.token"  # in the node's home
SESSION_COOKIE = "dain_session"
CSRF_FIELD = "csrf"
SESSION_SECONDS = 12 * 3600  # a session lasts a working day
MAX_SESSIONS = 64  # the oldest is forgotten past this: memory stays bounded


def issue_token(home: Path) -> str:
    """A new access token, written to `home`/dashboard.token with mode 0600 (a new file
    replaces the old one, so no moment exists where it is readable by others). Each start
    issues a new one: a token seen once stops working when the node restarts."""
    token = secrets.token_urlsafe(32)
    path = home / TOKEN_FILE
    part = path.with_name(f".{TOKEN_FILE}.{os.getpid()}")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask or an older file said
        os.write(fd, (token + "\n").encode())
    finally:
        os.close(fd)
    os.replace(part, path)
    return token


def read_token(home: Path) -> str | None:
    """The token of the node running from `home`, or None when it has not issued one."""
    try:
        return (home / TOKEN_FILE).read_text().strip() or None
    except OSError:
        return None


class Access:
    """The access token, the sessions it opened, and the CSRF token of each."""

    def __init__(self, token: str, now: Callable[[], float] = time.monotonic) -> None:
        if len(token) < 16:
            raise ValueError("an access token needs at least 16 characters")
        self._token = token
        self._sessions: OrderedDict[str, float] = OrderedDict()  # id -> when it ends
        self._lock = Lock()
        self._now = now

    def token_matches(self, offered: str) -> bool:
        return hmac.compare_digest(offered.encode(), self._token.encode())

    def open_session(self, offered: str) -> str | None:
        """A new session's id if `offered` is the access token, else None."""
        return self.new_session() if self.token_matches(offered) else None

    def new_session(self) -> str:
        """A new session's id, for a reader who proved who they are (token or password)."""
        session = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[session] = self._now() + SESSION_SECONDS
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
        return session

    def close_session(self, session: str) -> None:
        with self._lock:
            self._sessions.pop(session, None)

    def session_valid(self, session: str | None) -> bool:
        if not session:
            return False
        with self._lock:
            ends = self._sessions.get(session)
            if ends is not None and ends <= self._now():
                del self._sessions[session]
                ends = None
        return ends is not None

    def csrf_token(self, session: str) -> str:
        """The CSRF token every form of this session carries."""
        return hmac.new(self._token.encode(), b"csrf:" + session.encode(),
                        hashlib.sha256).hexdigest()  # fmt: skip

    def csrf_matches(self, session: str, offered: str) -> bool:
        # as bytes: compare_digest raises on a str that is not ASCII (a form may send any)
        expected = self.csrf_token(session).encode()
        return bool(offered) and hmac.compare_digest(offered.encode(), expected)
