"""Turns a contract's revert data into a TransactionRefused a person can act on."""

from __future__ import annotations

import ast
import re
from functools import cache
from typing import Any

from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from dain.ledger.artifacts import CONTRACTS, load_artifact
from dain.ledger.errors import TransactionRefused

_STATUS = ("none", "proposed", "approved", "running", "completed", "cancelled")
_CONSENT = ("allowed", "revoked", "expired", "not allowed for this purpose", "unknown asset")
_PROPOSAL = (
    "is pending: its vote has not opened yet",
    "is still being voted on",
    "was canceled",
    "was defeated",
    "has already succeeded and its vote is closed",
    "is queued",
    "has expired",
    "was already executed",
)


def _type_of(param: dict[str, Any]) -> str:
    if param["type"].startswith("tuple"):
        inner = ",".join(_type_of(c) for c in param["components"])
        return f"({inner}){param['type'][5:]}"
    return param["type"]


@cache
def _errors_by_selector() -> dict[bytes, tuple[str, list[str]]]:
    table: dict[bytes, tuple[str, list[str]]] = {
        function_signature_to_4byte_selector("Error(string)"): ("Error", ["string"]),
        function_signature_to_4byte_selector("Panic(uint256)"): ("Panic", ["uint256"]),
    }
    for name in CONTRACTS:
        for entry in load_artifact(name).abi:
            if entry["type"] == "error":
                types = [_type_of(p) for p in entry["inputs"]]
                signature = f"{entry['name']}({','.join(types)})"
                table[function_signature_to_4byte_selector(signature)] = (entry["name"], types)
    return table


def revert_data(exc: BaseException) -> bytes | None:
    """The raw revert data carried by an exception from web3.py or eth-tester, if any."""
    data = getattr(exc, "data", None)
    if isinstance(data, str) and re.fullmatch(r"0x[0-9a-fA-F]*", data):
        return bytes.fromhex(data[2:])
    if isinstance(data, bytes):
        return data
    for arg in exc.args:
        text = str(arg)
        # eth-tester reports "execution reverted: b'...'" with the bytes' Python repr
        match = re.search(r"execution reverted: (b'.*'|b\".*\")$", text, re.S)
        if match:
            return ast.literal_eval(match.group(1))
        if re.fullmatch(r"0x(?:[0-9a-fA-F]{2}){4,}", text):
            return bytes.fromhex(text[2:])
    return None


def decode_revert(data: bytes) -> tuple[str, tuple[Any, ...]]:
    known = _errors_by_selector().get(data[:4])
    if known is None:
        return "UnknownError", (data.hex(),)
    name, types = known
    try:
        return name, tuple(decode(types, data[4:]))
    except Exception:
        return name, ()


def _short(value: int) -> str:
    text = f"{value:064x}"
    return f"0x{text[:8]}…"


def explain(call: str, name: str, args: tuple[Any, ...]) -> tuple[str, str | None]:
    """A sentence for people, and a hint, for each refusal dain's contracts can give."""
    match name, args:
        case "ConsentRefused", (asset, reason):
            return (
                f"Asset {_short(asset)} does not consent to this use: {_CONSENT[reason]}.",
                "Its owner can change the policy with 'dain consent update'.",
            )
        case "InvalidReceiptSignature", (asset, signer, owner):
            return (
                f"The receipt for asset {_short(asset)} was signed by "
                f"{to_checksum_address(signer)}, not by its owner {to_checksum_address(owner)}.",
                "Receipts are bound to one job, round, chain and contract; get a fresh one.",
            )
        case "WrongStatus", (job, actual, expected):
            return (f"Job {job} is {_STATUS[actual]}; this needs it {_STATUS[expected]}.", None)
        case "WrongRound", (job, expected, given):
            return (f"Job {job} expects round {expected} next, not round {given}.", None)
        case "NotAggregator", (job, rnd, expected, caller):
            return (
                f"{caller} is not the aggregator of job {job}, round {rnd}; {expected} is.",
                None,
            )
        case "NotRequester", (job, caller):
            return (f"Only the requester of job {job} can do this, not {caller}.", None)
        case "NotAssetOwner", (asset, caller):
            return (f"{caller} does not own asset {_short(asset)}.", None)
        case "NotGovernor", (caller,):
            return (
                "Only a passed governance proposal can approve a job.",
                "Use 'dain gov propose'.",
            )
        case "NothingToClaim", (job, asset):
            return (
                f"Asset {_short(asset)} has no reward waiting from job {job}.",
                "It was already claimed, or the asset took no part.",
            )
        case "AlreadyEnrolled", (job, asset):
            return (f"Asset {_short(asset)} is already enrolled in job {job}.", None)
        case "NotEnrolled", (job, asset):
            return (f"Asset {_short(asset)} is not enrolled in job {job}.", None)
        case "GovernorUnexpectedProposalState", (_, current, _expected):
            return (f"The proposal {_PROPOSAL[current]}, so this cannot be done now.", None)
        case "GovernorAlreadyCastVote", (voter,):
            return (f"{voter} has already voted on this proposal.", None)
        case "ERC20InsufficientBalance", (who, have, need):
            return (f"{who} holds {have} token units but {need} are needed.", None)
        case "ERC20InsufficientAllowance", (_, have, need):
            return (f"Only {have} token units are approved for spending, {need} needed.", None)
        case "ERC721InvalidSender", _:
            return ("This data asset is already registered.", None)
        case "ERC721NonexistentToken", (asset,):
            return (f"There is no data asset {_short(asset)}.", None)
    return (f"The chain refused {call}: {name}{args}.", None)


def refusal(call: str, exc: BaseException) -> TransactionRefused | None:
    data = revert_data(exc)
    if data is None or len(data) < 4:
        return None
    name, args = decode_revert(data)
    message, hint = explain(call, name, args)
    return TransactionRefused(message, call=call, reason=name, args=args, hint=hint)
