"""The command line starts at once: help, and commands that need neither PyTorch nor a chain,
load none of the heavy libraries. Each case runs in a fresh interpreter, because a module
once imported anywhere in the test process would hide the import we look for. Timings are
bench/cli_startup.py's business, not a test's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from dain.cli import app

HEAVY = (
    "torch", "sklearn", "scipy", "opacus", "numpy", "pandas", "web3", "eth_account",
    "eth_keys", "eth_keyfile", "eth_utils", "coincurve", "py_ecc", "eth", "fastapi",
    "uvicorn", "starlette", "httpx", "multiformats", "safetensors",
)  # fmt: skip

# imports the CLI, runs commands through Typer's runner one after the other, and prints
# the heavy top-level packages loaded by then: after the import, and after each command
PROBE = """
import json, sys
from typer.testing import CliRunner
from dain.cli import app
def heavy():
    return sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))
seen = {"import": heavy(), "runs": []}
for args in COMMANDS:
    result = CliRunner().invoke(app, args)
    seen["runs"].append({"args": args, "exit": result.exit_code, "output": result.output,
                         "heavy": heavy()})
print(json.dumps(seen))
"""


def probe(*commands: list[str]) -> dict[str, Any]:
    """Runs `commands` in one fresh interpreter; what each printed and left loaded."""
    code = PROBE.replace("HEAVY", repr(HEAVY)).replace("COMMANDS", repr(list(commands)))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def command_paths() -> dict[str, list[list[str]]]:
    """Every command of `dain` as the words a user types, by top-level group."""
    groups: dict[str, list[list[str]]] = {}

    def walk(command: object, path: list[str]) -> None:
        groups.setdefault(path[0], []).append(path)
        for name, sub in sorted(getattr(command, "commands", {}).items()):  # a group's
            walk(sub, [*path, name])

    for name, command in typer.main.get_command(app).commands.items():  # type: ignore[attr-defined]
        walk(command, [name])
    return groups


def test_the_probe_sees_a_heavy_import() -> None:
    # the check below is only worth something if an import it forbids would show
    code = "import sys, numpy; print(sorted(m for m in sys.modules if m == 'numpy'))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "['numpy']"


def test_every_group_and_command_is_probed() -> None:
    groups = command_paths()
    paths = {" ".join(p) for paths in groups.values() for p in paths}
    assert {"audit", "audit asset", "sim", "demo", "chain up", "devnet demo"} <= paths


def test_dain_help_loads_nothing_heavy() -> None:
    seen = probe(["--help"])

    (run,) = seen["runs"]
    assert run["exit"] == 0 and "Usage" in run["output"]
    assert seen["import"] == [] and run["heavy"] == []


@pytest.mark.parametrize("group", sorted(command_paths()))
def test_every_help_of_a_group_loads_nothing_heavy(group: str) -> None:
    # the group's own help first, in a fresh interpreter (`dain audit --help` alone), then
    # each of its commands' helps
    seen = probe(*([*path, "--help"] for path in command_paths()[group]))

    for run in seen["runs"]:
        assert run["exit"] == 0 and "Usage" in run["output"], run
        assert run["heavy"] == [], run["args"]


def test_asking_for_a_chain_that_does_not_run_loads_nothing_heavy(tmp_path: Path) -> None:
    seen = probe(["chain", "status", "--home", str(tmp_path)])

    (run,) = seen["runs"]
    assert run["exit"] == 3
    assert "No chain runs" in run["output"]
    assert run["heavy"] == []


def test_a_command_missing_its_choice_is_refused_before_loading_the_chain(tmp_path: Path) -> None:
    seen = probe(["gov", "propose", "--home", str(tmp_path)])

    (run,) = seen["runs"]
    assert run["exit"] == 1  # a DainError, which main() prints and exits 1 on
    assert run["heavy"] == []
