"""The ledger package's layers, checked in its source: only the caller, the transaction
sender below it and the backends touch web3's requests; the typed clients are given their
contract and a caller, never the whole Ledger."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import dain.ledger
from dain.ledger.assets import AssetsClient
from dain.ledger.caller import ChainCaller
from dain.ledger.governance import GovernanceClient, TokenClient
from dain.ledger.jobs import JobsClient
from dain.ledger.registry import RegistryClient

PACKAGE = Path(dain.ledger.__file__).parent
# the modules allowed to make requests: each guards them (see failures.py)
DOORS = {"caller.py", "transactions.py", "backend.py"}
# web3 methods that make a request to the chain's node
REQUESTS = {
    "call", "transact", "estimate_gas", "build_transaction", "get_logs", "create_filter",
    "make_request", "send_raw_transaction", "send_transaction", "wait_for_transaction_receipt",
}  # fmt: skip
# eth.<name> that does not: binding a contract object is local
LOCAL_ETH = {"contract"}


def _request(node: ast.AST) -> str | None:
    """`x.call()`, `x.get_logs()`, ... or any `web3.eth.<name>` but `contract`."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return f".{node.func.attr}()" if node.func.attr in REQUESTS else None
    on_eth = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
    if on_eth and node.value.attr == "eth" and node.attr not in LOCAL_ETH:  # type: ignore[attr-defined]
        return f".eth.{node.attr}"  # type: ignore[attr-defined]
    return None


def _requests_in(path: Path) -> list[str]:
    found = ((node, _request(node)) for node in ast.walk(ast.parse(path.read_text())))
    return [f"{path.name}:{node.lineno} {what}" for node, what in found if what]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "path", sorted(p for p in PACKAGE.glob("*.py") if p.name not in DOORS), ids=lambda p: p.name
)
def test_only_the_caller_makes_requests(path: Path) -> None:
    assert _requests_in(path) == []


def test_the_check_sees_requests_where_they_are() -> None:
    assert _requests_in(PACKAGE / "caller.py")  # the check would catch one elsewhere


@pytest.mark.parametrize(
    "client", [TokenClient, GovernanceClient, RegistryClient, AssetsClient, JobsClient]
)
def test_clients_take_their_contract_and_a_caller(client: type) -> None:
    params = list(inspect.signature(client).parameters.values())

    assert [p.name for p in params[:2]] in (["contract", "caller"], ["governor", "caller"])
    assert params[1].annotation in (ChainCaller, "ChainCaller")
    assert all("Ledger" not in str(p.annotation) for p in params)
