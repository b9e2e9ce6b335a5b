"""Compiled contracts (ABI and bytecode) committed inside the package by `make contracts`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from dain.ledger.errors import DeploymentError

CONTRACTS = ("DainToken", "DainTimelock", "DainGovernor", "Registry", "DataAssets", "Jobs")


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str


@cache
def load_artifact(name: str) -> Artifact:
    try:
        text = resources.files("dain.ledger").joinpath("artifacts", f"{name}.json").read_text()
    except FileNotFoundError as exc:
        raise DeploymentError(
            f"The compiled contract {name} is missing from this installation.",
            hint="Run 'make contracts' in a source checkout, or reinstall dain.",
        ) from exc
    raw = json.loads(text)
    return Artifact(name, raw["abi"], raw["bytecode"])
