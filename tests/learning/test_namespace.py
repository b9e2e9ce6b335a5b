"""dain.learning's one public namespace: `__all__` lists exactly what it exports, other
packages import only from it (or from dain.learning.secagg), and importing it leaves the
heavy privacy libraries for the functions that need them."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import dain.learning

ROOT = Path(__file__).parents[2]
PUBLIC_MODULES = {"dain.learning", "dain.learning.secagg"}


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(dain.learning).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert public == set(dain.learning.__all__)


def _imports_of_learning(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dain.learning"):
            found.append(node.module or "")
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("dain.learning")]
    return found


def test_other_packages_import_only_the_public_namespace() -> None:
    learning = ROOT / "src" / "dain" / "learning"
    files = [*(ROOT / "src").rglob("*.py"), *(ROOT / "bench").rglob("*.py")]
    private = [
        (str(path.relative_to(ROOT)), module)
        for path in files
        if learning not in path.parents
        for module in _imports_of_learning(path)
        if module not in PUBLIC_MODULES
    ]
    assert private == []


def test_importing_it_leaves_opacus_and_dp_accounting_alone() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c",
         "import sys, dain.learning; print(sorted(m for m in ('opacus', 'dp_accounting')"
         " if m in sys.modules))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert loaded == "[]"
