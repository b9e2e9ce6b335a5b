"""Every test the threat model cites exists, so the page cannot quietly point at nothing."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
PAGE = ROOT / "docs" / "THREAT_MODEL.md"
CITED = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`")
SIBLING = re.compile(r"`::(\w+)`")  # "::test" after a cited file: same file


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}


def test_every_cited_test_exists() -> None:
    missing, cited = [], 0
    for line in PAGE.read_text().splitlines():
        last_file = None
        for match in re.finditer(rf"{CITED.pattern}|{SIBLING.pattern}", line):
            file, name, sibling = match.group(1), match.group(2), match.group(3)
            if file:
                last_file = file
                path = ROOT / file
                if not path.exists():
                    missing.append(file)
                    continue
            name = name or sibling
            if name:
                assert last_file, f"'::{name}' cites no file before it: {line}"
                cited += 1
                if name not in _tests_in(ROOT / last_file):
                    missing.append(f"{last_file}::{name}")
    assert cited > 20
    assert missing == []
