"""Each layer exports its public names through __all__, once each, and all of them exist."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "dain.identity",
    "dain.storage",
    "dain.data",
    "dain.learning",
    "dain.incentives",
    "dain.ledger",
    "dain.node",
    "dain.devnet",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_exist_once(name: str) -> None:
    module = importlib.import_module(name)
    assert len(set(module.__all__)) == len(module.__all__)
    for member in module.__all__:
        assert hasattr(module, member), f"{name}.{member}"


@pytest.mark.parametrize("name", ["dain.node", "dain.devnet"])
def test_lazy_namespaces_refuse_unknown_names(name: str) -> None:
    module = importlib.import_module(name)
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        module.nothing_here  # noqa: B018
