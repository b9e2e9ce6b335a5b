"""The dashboard: server-rendered pages for data owners (and later requesters, members and
auditors), served by the node's own app under /ui and acting with the node's key.

Names load on first use, so the CLI does not import FastAPI and Jinja2 until it serves.
"""

from dain.lazy import lazy_exports as _lazy_exports

_EXPORTS = {
    "PREFIX": "dain.web.ui",
    "dashboard": "dain.web.ui",
    "with_dashboard": "dain.web.ui",
    "TOKEN_FILE": "dain.web.access",
    "issue_token": "dain.web.access",
    "read_token": "dain.web.access",
}

__all__ = sorted(_EXPORTS)

__getattr__ = _lazy_exports("dain.web", _EXPORTS)
