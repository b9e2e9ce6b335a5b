"""Reading the expiry a person writes for their consent. Light on purpose: the command line
parses it before it loads any key or chain library."""

from __future__ import annotations

import datetime as dt

from dain.data.errors import PolicyError

LAST_EXPIRY = 253_402_300_799  # 9999-12-31 23:59:59 UTC: the last time a date can name


def parse_expiry(text: str, now: float | None = None) -> int:
    """Unix seconds of an expiry a person wrote; 0 for never. One already past is refused:
    consent that ended before it was given is a typo, not a wish."""
    text = text.strip()
    if text.lower() in ("never", "0", ""):
        return 0
    if text.isascii() and text.isdigit():  # not str.isdigit alone: it takes "²"
        when = int(text)
        if when > LAST_EXPIRY:
            raise PolicyError(
                f"The expiry {text} is after the year 9999.",
                hint="Give a date (YYYY-MM-DD), unix seconds, or 'never'.",
            )
    else:
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise PolicyError(
                f"'{text}' is not a date.", hint="Use YYYY-MM-DD, unix seconds, or 'never'."
            ) from None
        when = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())
    now = dt.datetime.now(dt.UTC).timestamp() if now is None else now
    if when <= now:
        shown = dt.datetime.fromtimestamp(when, dt.UTC).date().isoformat()
        raise PolicyError(f"The expiry {text} ({shown}) is already past.",
                          hint="Give a future date (YYYY-MM-DD), or 'never'.")  # fmt: skip
    return when
