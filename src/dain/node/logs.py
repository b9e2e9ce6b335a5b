"""A running node's log: one line per event, on the console (Rich: coloured on a terminal,
plain when piped) and in a rotating file in its home, at the level node.toml sets.

Only dain's own loggers speak at that level; libraries (web3, httpx, uvicorn) speak only
of warnings and errors, so a chain read or a peer's request is never a line of its own."""

from __future__ import annotations

import logging
import logging.handlers
import time
from pathlib import Path

from rich.console import Console
from rich.text import Text

FILE_BYTES = 5 * 2**20  # then node.log becomes node.log.1, and so on
FILE_BACKUPS = 5
_STYLES = {logging.DEBUG: "dim", logging.INFO: "cyan", logging.WARNING: "yellow",
           logging.ERROR: "bold red", logging.CRITICAL: "bold red"}  # fmt: skip
_FILE_FORMAT = "%(asctime)s.%(msecs)03dZ %(levelname)-7s %(name)s: %(message)s"


class ConsoleHandler(logging.Handler):
    """One line per record, never wrapped or padded (a log read later, or grepped, keeps
    each event whole); a bug's traceback follows its line."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = Text.assemble(
                (time.strftime("%H:%M:%S", time.localtime(record.created)), "dim"), " ",
                (f"{record.levelname:<7}", _STYLES.get(record.levelno, "")), " ",
                record.getMessage(),
            )  # fmt: skip
            self.console.print(line, soft_wrap=True, highlight=False, markup=False)
            if record.exc_info:
                trace = logging.Formatter().formatException(record.exc_info)
                self.console.print(trace, soft_wrap=True, highlight=False, markup=False)
        except Exception:  # a log line must never take the node down
            self.handleError(record)


def configure(log_file: Path, level: str, console: Console | None = None) -> None:
    """Sends dain's records at `level` (and every library's warnings) to the console and
    to `log_file`, replacing whatever this function set up before."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    to_file = logging.handlers.RotatingFileHandler(
        log_file, maxBytes=FILE_BYTES, backupCount=FILE_BACKUPS, encoding="utf-8"
    )
    formatter = logging.Formatter(_FILE_FORMAT, "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime  # UTC, as the Z says
    to_file.setFormatter(formatter)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "dain_node_log", False):
            root.removeHandler(handler)
            handler.close()
    for handler in (ConsoleHandler(console or Console(stderr=True)), to_file):
        handler.dain_node_log = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("dain").setLevel(level.upper())
