"""A node's log (dain.node.logs): each event one line, in the file and on the console, at
the level node.toml sets; libraries speak only of warnings."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from dain.node.logs import FILE_BACKUPS, FILE_BYTES, configure


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root, dain = logging.getLogger(), logging.getLogger("dain")
    handlers, levels = list(root.handlers), (root.level, dain.level)
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(levels[0])
    dain.setLevel(levels[1])


def test_events_go_to_the_file_and_the_console_one_line_each(
    tmp_path: Path, restore_logging: None
) -> None:
    screen = io.StringIO()
    configure(tmp_path / "logs" / "node.log", "info", Console(file=screen, width=40))
    long = " ".join(["job 1, round 2: trained asset 0xabababababab… on 456 examples"] * 3)

    logging.getLogger("dain.node.runner").info("%s", long)
    logging.getLogger("dain.node.runner").debug("too fine for info")
    logging.getLogger("httpx").info("HTTP Request: POST https://peer/updates")  # a library
    logging.getLogger("web3.providers").warning("a library's warning")

    written = (tmp_path / "logs" / "node.log").read_text().splitlines()
    assert [line.split(None, 2)[2] for line in written] == [
        f"dain.node.runner: {long}", "web3.providers: a library's warning",
    ]  # fmt: skip
    assert written[0].startswith("20") and written[0].split(" ")[0].endswith("Z")  # UTC
    shown = screen.getvalue().splitlines()
    assert len(shown) == 2 and shown[0].endswith(long)  # never wrapped at 40 columns


def test_the_level_from_node_toml_is_kept_and_a_second_call_replaces_the_first(
    tmp_path: Path, restore_logging: None
) -> None:
    screen = io.StringIO()
    configure(tmp_path / "first.log", "info", Console(file=screen))
    configure(tmp_path / "node.log", "warning", Console(file=screen))

    logging.getLogger("dain.node.runner").info("an event")
    logging.getLogger("dain.node.runner").warning("a failure")

    assert "an event" not in (tmp_path / "node.log").read_text()
    assert "a failure" in (tmp_path / "node.log").read_text()
    assert "a failure" not in (tmp_path / "first.log").read_text()
    assert screen.getvalue().count("a failure") == 1
    rotating = [h for h in logging.getLogger().handlers if hasattr(h, "maxBytes")]
    assert [(h.maxBytes, h.backupCount) for h in rotating] == [(FILE_BYTES, FILE_BACKUPS)]
