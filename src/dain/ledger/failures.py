"""Where the chain's failures enter dain: which third-party exceptions mean the chain or its
node failed, and the LedgerError each becomes.

Only what the chain, its node or the way to it can cause is translated:

- a revert (web3's ContractLogicError and its ContractCustomError, ContractPanicError;
  eth-tester's TransactionFailed) becomes TransactionRefused named after the Solidity error;
- the node rejecting a transaction (a JSON-RPC error answer, web3's Web3RPCError; py-evm's
  eth_utils ValidationError for a bad nonce or too little gas money) becomes
  TransactionRefused when sending (saying how an account gets gas money when it has
  none), ChainUnavailable when reading;
- the way to the node failing becomes ChainUnavailable: OSError, which covers every
  `requests` error HTTPProvider raises (refused connections, timeouts, HTTP error statuses)
  and socket errors; web3's ProviderConnectionError, PersistentConnectionError,
  BadResponseFormat, TooManyRequests, TimeExhausted (and RequestTimedOut, a Web3RPCError);
  a JSONDecodeError from an endpoint that answers with something other than JSON;
- an empty answer where a contract should be (web3's BadFunctionCallOutput) becomes
  DeploymentError: the deployment record does not match the chain.

Everything else passes through unchanged, because it is a bug in dain, not a failure of
the chain: TypeError, KeyError, web3's MismatchedABI (arguments of the wrong type),
Web3ValidationError, InvalidAddress, Web3TypeError, Web3ValueError, eth-tester's own
ValidationError (a malformed request).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import requests
from eth_utils import ValidationError as EvmValidationError
from web3.exceptions import (
    BadFunctionCallOutput,
    BadResponseFormat,
    ContractLogicError,
    PersistentConnectionError,
    ProviderConnectionError,
    RequestTimedOut,
    TimeExhausted,
    TooManyRequests,
    Web3RPCError,
)

from dain.costs import span
from dain.ledger.errors import ChainUnavailable, DeploymentError, LedgerError, TransactionRefused
from dain.ledger.revert import refusal

TRANSPORT_FAILURES: tuple[type[BaseException], ...] = (
    OSError,  # requests.RequestException is an OSError; so are socket errors and timeouts
    ProviderConnectionError,
    PersistentConnectionError,
    BadResponseFormat,
    TooManyRequests,
    TimeExhausted,
    RequestTimedOut,
    json.JSONDecodeError,  # HTTPProvider decoding an answer that is not JSON
)
NODE_REJECTIONS: tuple[type[BaseException], ...] = (Web3RPCError, EvmValidationError)
HINT = "Check that the chain's node is running and reachable at the configured URL, then retry."
FUNDS_HINT = (
    "On a local test chain, 'dain chain admit ADDRESS' admits the account and funds it; on a "
    "live network, members admit it by vote ('dain gov propose --admit ADDRESS') and someone "
    "sends it ether for gas. ADDRESS is your key's (the 'address' in its keystore file)."
)


def reverts() -> tuple[type[BaseException], ...]:
    """web3's revert, and eth-tester's when the embedded chain is loaded (an exception of
    its type cannot exist before; importing it eagerly would cost every CLI call 0.1 s)."""
    tester = sys.modules.get("eth_tester.exceptions")
    if tester is None:
        return (ContractLogicError,)
    return (ContractLogicError, tester.TransactionFailed)


def translate(
    call: str, exc: BaseException, *, sending: bool = False, tx_hash: str | None = None
) -> LedgerError | None:
    """The LedgerError for a failure of the chain while dain tried to `call` (a verb
    phrase: "read the job", "enroll the asset"), or None if `exc` is a bug to let through."""
    if isinstance(exc, reverts() + NODE_REJECTIONS):
        refused = refusal(call, exc)  # the contract's own error, when the data carries one
        if refused is not None:
            refused.tx_hash = tx_hash
            return refused
    if isinstance(exc, reverts()):
        return TransactionRefused(
            f"The chain refused to {call}: the contract reverted without a reason.",
            call=call,
            reason="Reverted",
            tx_hash=tx_hash,
        )
    if isinstance(exc, BadFunctionCallOutput):  # an empty answer: no contract at the address
        return DeploymentError(
            f"No dain contract answered when dain tried to {call}.",
            hint="The deployment record may be from another chain, or the chain was reset: "
            "point dain at the chain the network was deployed on, or deploy again.",
        )
    if isinstance(exc, TRANSPORT_FAILURES):  # before NODE_REJECTIONS: RequestTimedOut is both
        return _unavailable(call, exc, tx_hash)
    if isinstance(exc, NODE_REJECTIONS) and sending and _no_gas_money(exc):
        return TransactionRefused(
            f"Your account cannot pay the gas to {call} ({describe(exc)}): a new account has "
            "no ether until it is admitted as a member and funded.",
            call=call,
            reason="RejectedByNode",
            tx_hash=tx_hash,
            hint=FUNDS_HINT,
        )
    if isinstance(exc, NODE_REJECTIONS) and sending:
        return TransactionRefused(
            f"The chain's node refused to {call}: {describe(exc)}.",
            call=call,
            reason="RejectedByNode",
            tx_hash=tx_hash,
            hint="Check that the account has enough funds for gas, then retry.",
        )
    if isinstance(exc, NODE_REJECTIONS):
        return ChainUnavailable(
            f"The chain's node could not answer when dain tried to {call}: {describe(exc)}.",
            call=call,
            tx_hash=tx_hash,
            hint=HINT,
        )
    return None


@contextmanager
def guarded(call: str, *, sending: bool = False, tx_hash: str | None = None) -> Iterator[None]:
    """Runs one request to the chain; its failures leave as LedgerErrors, bugs as themselves.
    Every request passes here, so here it is timed (dain.costs): a read, or a transaction's."""
    try:
        with span("chain_tx" if sending else "chain_read"):
            yield
    except Exception as exc:
        error = translate(call, exc, sending=sending, tx_hash=tx_hash)
        if error is None:
            raise
        raise error from exc


def _unavailable(call: str, exc: BaseException, tx_hash: str | None) -> ChainUnavailable:
    if isinstance(exc, TimeExhausted) and tx_hash:
        return ChainUnavailable(
            f"The transaction to {call} was sent ({tx_hash}) but not confirmed in time.",
            call=call,
            tx_hash=tx_hash,
            hint="It may still be mined: check its status before sending it again.",
        )
    return ChainUnavailable(
        f"Cannot reach the chain while trying to {call} ({describe(exc)}).",
        call=call,
        tx_hash=tx_hash,
        hint=HINT,
    )


def _no_gas_money(exc: BaseException) -> bool:
    # anvil and geth: "insufficient funds for gas * price + value"; py-evm: "Sender ...
    # cannot afford txn gas ..."
    text = describe(exc).lower()
    return "insufficient funds" in text or "cannot afford" in text


def describe(exc: BaseException) -> str:
    """The failure in a few plain words, without a library's stack of wrappers."""
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"the endpoint answered HTTP {exc.response.status_code}"
    if isinstance(exc, requests.Timeout | TimeoutError | RequestTimedOut | TimeExhausted):
        return "no answer in time"
    if isinstance(exc, requests.ConnectionError | ConnectionError):
        return "connection refused" if "refused" in str(exc).lower() else "cannot connect"
    if isinstance(exc, json.JSONDecodeError | BadResponseFormat):
        return "the endpoint's answer is not JSON-RPC"
    if isinstance(exc, Web3RPCError):
        error = (exc.rpc_response or {}).get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__
