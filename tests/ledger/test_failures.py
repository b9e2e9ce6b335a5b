"""Which exceptions are the chain's failures: each becomes a LedgerError naming the call,
and everything else (a bug in dain) passes through as itself. The exceptions are the real
classes web3.py, requests and eth-tester raise, built as they build them."""

from __future__ import annotations

import json

import pytest
import requests
from eth_abi import encode
from eth_tester.exceptions import TransactionFailed
from eth_utils import ValidationError as EvmValidationError
from eth_utils import function_signature_to_4byte_selector
from web3.exceptions import (
    BadFunctionCallOutput,
    BadResponseFormat,
    ContractCustomError,
    ContractLogicError,
    InvalidAddress,
    MethodUnavailable,
    MismatchedABI,
    ProviderConnectionError,
    RequestTimedOut,
    TimeExhausted,
    TooManyRequests,
    Web3RPCError,
    Web3TypeError,
    Web3ValidationError,
    Web3ValueError,
)

from dain.ledger import ChainUnavailable, DeploymentError, TransactionRefused
from dain.ledger.failures import guarded, translate

CALL = "read the job"
NOTHING_TO_CLAIM = function_signature_to_4byte_selector("NothingToClaim(uint256,uint256)") + encode(
    ["uint256", "uint256"], [3, 7]
)


def _http_error(status: int) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    return requests.HTTPError(f"{status} Server Error", response=response)


def _rpc_error(message: str, kind: type[Web3RPCError] = Web3RPCError) -> Web3RPCError:
    return kind(str({"code": -32000, "message": message}), rpc_response={
        "jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": message}
    })  # fmt: skip


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (requests.ConnectionError("[Errno 111] Connection refused"), "connection refused"),
        (requests.ReadTimeout("Read timed out. (read timeout=30)"), "no answer in time"),
        (_http_error(502), "HTTP 502"),
        (ConnectionResetError("reset by peer"), "cannot connect"),
        (TimeoutError(), "no answer in time"),
        (json.JSONDecodeError("Expecting value", "<html>", 0), "not JSON-RPC"),
        (BadResponseFormat("no jsonrpc field"), "not JSON-RPC"),
        (ProviderConnectionError("socket closed"), "socket closed"),
        (_rpc_error("request timed out", RequestTimedOut), "no answer in time"),
        (TooManyRequests("slow down"), "slow down"),
        (_rpc_error("header not found"), "header not found"),
        (_rpc_error("Method not found", MethodUnavailable), "Method not found"),
    ],
)
def test_transport_and_node_failures_on_a_read_are_chain_unavailable(
    exc: Exception, words: str
) -> None:
    error = translate(CALL, exc)

    assert isinstance(error, ChainUnavailable)
    assert error.call == CALL
    assert CALL in error.message and words in error.message


def test_a_node_refusing_a_transaction_is_a_refusal_with_its_reason() -> None:
    for exc in (_rpc_error("insufficient funds for gas * price + value"),
                EvmValidationError("Sender b'..' cannot afford txn gas 21000")):  # fmt: skip
        error = translate("enroll the asset", exc, sending=True)

        assert isinstance(error, TransactionRefused)
        assert error.reason == "RejectedByNode" and "enroll the asset" in error.message


def test_a_transaction_not_mined_in_time_keeps_its_hash() -> None:
    error = translate("record the round", TimeExhausted("not in the chain"), tx_hash="ab12")

    assert isinstance(error, ChainUnavailable)
    assert error.tx_hash == "ab12" and "ab12" in error.message


@pytest.mark.parametrize(
    "exc",
    [
        ContractCustomError("0x" + NOTHING_TO_CLAIM.hex(), data="0x" + NOTHING_TO_CLAIM.hex()),
        TransactionFailed(f"execution reverted: {NOTHING_TO_CLAIM!r}"),
    ],
    ids=["web3", "eth-tester"],
)
def test_a_revert_is_refused_with_the_solidity_error(exc: Exception) -> None:
    error = translate("claim the reward", exc, sending=True)

    assert isinstance(error, TransactionRefused)
    assert error.reason == "NothingToClaim" and error.args_decoded == (3, 7)


def test_a_revert_without_data_is_still_a_refusal() -> None:
    error = translate(CALL, ContractLogicError("execution reverted", data="0x"))

    assert isinstance(error, TransactionRefused) and error.reason == "Reverted"


def test_an_empty_answer_where_a_contract_should_be_is_a_deployment_error() -> None:
    error = translate(CALL, BadFunctionCallOutput("Could not decode contract function call"))

    assert isinstance(error, DeploymentError) and CALL in error.message


@pytest.mark.parametrize(
    "exc",
    [
        TypeError("unsupported operand"),
        KeyError("jobId"),
        AttributeError("no attribute 'functions'"),
        ValueError("invalid literal for int()"),
        MismatchedABI("The provided arguments are not valid."),
        Web3ValidationError("Sending non-zero ether to a contract function with payable=False."),
        InvalidAddress("ENS name: 'garbage' is invalid."),
        Web3TypeError("Address 5 must be provided as a string"),
        Web3ValueError("Value did not match any of the recognized block identifiers"),
    ],
)
def test_bugs_are_not_translated(exc: Exception) -> None:
    assert translate(CALL, exc) is None
    assert translate(CALL, exc, sending=True) is None
    with pytest.raises(type(exc)) as raised, guarded(CALL):
        raise exc
    assert raised.value is exc
