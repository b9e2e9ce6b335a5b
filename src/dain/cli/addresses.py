"""Account addresses typed on the command line: checked by `dain.identity.parse_address`,
which the dashboard shares."""

from __future__ import annotations

from dain.identity import parse_address

__all__ = ["parse_address"]
