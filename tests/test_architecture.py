"""The shape DESIGN.md draws, checked: imports run only downward through the layers and
never in a circle; each package exports exactly its public names through `__all__`, and
other packages import only those names (as httpx's tests/test_exported_members.py does)."""

from __future__ import annotations
import __future__

import ast
import importlib
import inspect
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
SRC = ROOT / "src"

# higher may import lower, never the reverse; equal ranks may not import each other
RANKS = {
    "dain.__main__": 11,  # the entry point
    "dain.cli": 10,  # the command line (it serves the dashboard with `node start`)
    "dain.web": 9,  # the dashboard: pages over a node
    "dain.devnet": 9, "dain.node": 8, "dain.sim": 8,  # services (a devnet is made of nodes)
    "dain.ledger": 6, "dain.incentives": 5, "dain.data": 4, "dain.learning": 3,  # domain
    "dain.identity": 2, "dain.storage": 2,  # base
    "dain.errors": 1, "dain.lazy": 1, "dain.costs": 1, "dain": 0,  # shared roots
}  # fmt: skip
# a package's public namespaces: other packages import from these only
PACKAGES = sorted(
    ".".join(p.relative_to(SRC).parts[:-1])
    for p in SRC.rglob("__init__.py")
    if p.parent != SRC / "dain"
)


@dataclass(frozen=True)
class Import:
    importer: str  # the module that imports
    module: str  # the dain module it names (resolved to a real module)
    names: tuple[str, ...]  # the names taken from it; () for `import x`
    line: int


def _modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str:
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _imports(module: str) -> list[Import]:
    """Every import of a dain module anywhere in `module`: at the top, inside functions and
    under TYPE_CHECKING alike."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [Import(module, _resolve(a.name), (), node.lineno)
                      for a in node.names if a.name.split(".")[0] == "dain"]  # fmt: skip
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            if base.split(".")[0] != "dain":
                continue
            for alias in node.names:  # `from package import submodule` names a module
                whole = f"{base}.{alias.name}"
                if whole in MODULES and alias.name not in _exported(base):
                    found.append(Import(module, whole, (), node.lineno))
                else:
                    found.append(Import(module, _resolve(base), (alias.name,), node.lineno))
    return [i for i in found if i.module != module]


def _exported(module: str) -> set[str]:
    path = MODULES.get(module)
    if path is None or path.name != "__init__.py":
        return set()
    return set(getattr(importlib.import_module(module), "__all__", ()))


IMPORTS = {module: _imports(module) for module in MODULES}


def _layer(module: str) -> str:
    return max((p for p in RANKS if module == p or module.startswith(p + ".")), key=len)


def _package(module: str) -> str:
    """The public namespace `module` belongs to (its nearest package with an __init__)."""
    return max((p for p in [*PACKAGES, "dain"] if module == p or module.startswith(p + ".")),
               key=len)  # fmt: skip


def test_no_modules_import_each_other_even_through_others() -> None:
    graph = {m: {i.module for i in imports} for m, imports in IMPORTS.items()}
    circles, state = [], dict.fromkeys(graph, 0)  # 0 new, 1 on the path, 2 done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for nxt in sorted(graph[module]):
            if state.get(nxt) == 1:
                circles.append([*path[path.index(nxt):], nxt])
            elif state.get(nxt) == 0:
                visit(nxt, [*path, nxt])
        state[module] = 2

    for module in sorted(graph):
        if state[module] == 0:
            visit(module, [module])
    assert circles == []


def test_imports_run_only_downward_through_the_layers() -> None:
    upward = [
        f"{i.importer}:{i.line} imports {i.module}"
        for imports in IMPORTS.values()
        for i in imports
        if _layer(i.importer) != _layer(i.module)
        and RANKS[_layer(i.importer)] <= RANKS[_layer(i.module)]
    ]
    assert upward == []


def _public(namespace: object) -> set[str]:
    return {
        name for name, value in vars(namespace).items()
        if not name.startswith("_") and not inspect.ismodule(value)
        and not isinstance(value, __future__._Feature)
    }  # fmt: skip


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_exactly_the_public_names(name: str) -> None:
    package = importlib.import_module(name)
    exported = list(package.__all__)
    assert len(set(exported)) == len(exported), "a name is listed twice"
    lazy = getattr(package, "_EXPORTS", None)
    if lazy is not None:  # names load on first use: what it can load is what it lists
        assert set(exported) == set(lazy)
        assert _public(package) <= set(exported)
    else:
        assert _public(package) == set(exported)
    for member in exported:
        assert getattr(package, member) is not None, f"{name}.{member}"


def test_other_packages_import_only_the_listed_names() -> None:
    reaching_in = []
    for imports in IMPORTS.values():
        for i in imports:
            home = _package(i.module)
            if home == "dain" or _package(i.importer) == home or i.importer.startswith(home):
                continue  # the shared roots, and a package's own modules
            allowed = set(importlib.import_module(home).__all__)
            if i.module != home or not set(i.names) <= allowed:
                what = ", ".join(i.names) or "the module itself"
                reaching_in.append(f"{i.importer}:{i.line} takes {what} from {i.module}")
    assert reaching_in == []


def test_lazy_namespaces_refuse_unknown_names() -> None:
    for name in PACKAGES:
        package = importlib.import_module(name)
        if hasattr(package, "_EXPORTS"):
            with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
                package.nothing_here  # noqa: B018
