"""Turns a contract's revert data into a TransactionRefused a person can act on."""

from __future__ import annotations

import ast
import re
from functools import cache
from typing import Any

from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from dain.data import format_asset_id
from dain.ledger.artifacts import CONTRACTS, load_artifact
from dain.ledger.errors import TransactionRefused

_STATUS = ("none", "proposed", "approved", "running", "completed", "cancelled")
_CONSENT = (
    "allowed",
    "revoked",
    "expired",
    "not allowed for this purpose",
    "not allowed for this requester",
    "secure aggregation is required",
    "the job's privacy budget is higher than the policy allows",
    "unknown asset",
)
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


def explain(call: str, name: str, args: tuple[Any, ...]) -> tuple[str, str | None]:
    """A sentence for people, and a hint, for each refusal dain's contracts can give."""
    match name, args:
        case "ConsentRefused", (asset, reason):
            return (
                f"Asset {format_asset_id(asset)} does not consent to this use: {_CONSENT[reason]}.",
                "Its owner can change the policy with 'dain consent update'.",
            )
        case "InvalidReceiptSignature", (asset, signer, owner):
            return (
                f"The receipt for asset {format_asset_id(asset)} was signed by "
                f"{to_checksum_address(signer)}, not by its owner {to_checksum_address(owner)}.",
                "Receipts are bound to one job, round, chain and contract; get a fresh one.",
            )
        case "WrongStatus", (job, actual, expected):
            return (f"Job {job} is {_STATUS[actual]}; this needs it {_STATUS[expected]}.", None)
        case "WrongRound", (job, expected, given):
            return (
                f"Job {job} does not take round {given} now (next: {expected}, if any remain).",
                None,
            )
        case "NotAggregator", (job, rnd, expected, caller):
            return (
                f"{caller} is not the aggregator of job {job}, round {rnd}; {expected} is.",
                None,
            )
        case "NotRequester", (job, caller):
            return (f"Only the requester of job {job} can do this, not {caller}.", None)
        case "NotAssetOwner", (asset, caller):
            return (f"{caller} does not own asset {format_asset_id(asset)}.", None)
        case "NotGovernance", (caller,):
            return (
                f"{caller} cannot do this: only a passed, queued governance proposal can.",
                "Use 'dain gov propose'.",
            )
        case "NotMember", (account,):
            return (
                f"{account} is not an admitted member of this network.",
                "Members are admitted by a governance vote ('dain gov propose --admit').",
            )
        case "NotAdmitted", (account,):
            return (f"{account} is not an admitted member of this network.", None)
        case "PoolTooSmall", (job, needed, pool):
            return (
                f"Job {job}'s reward pool ({pool}) cannot pay every enrolled asset's price for "
                f"every round ({needed}).",
                "The requester can propose a new job with a larger pool.",
            )
        case "TooFewParticipants", (job, needed, given):
            return (
                f"Job {job}: a policy wants {needed} assets in the round, {given} took part.",
                None,
            )
        case "PrivacyBudgetExceeded", (job, spent, requested, budget):
            return (
                f"Job {job} has spent epsilon {spent / 1e6:g} of {budget / 1e6:g}; "
                f"this round's {requested / 1e6:g} would exceed it.",
                None,
            )
        case "MissingAgreementKey", (asset,):
            return (
                f"Asset {format_asset_id(asset)} cannot join a secure-aggregation job without "
                "a key for it.",
                "Enroll through a dain node, which derives and publishes the key.",
            )
        case "NotSecureAggregation", (job,):
            return (
                f"Job {job} neither uses secure aggregation nor samples: a round cannot abort.",
                None,
            )
        case "SharesMismatch", (job,):
            return (
                f"The reward shares for job {job} must name exactly the assets that took part, "
                "sorted, with shares summing to 10,000 basis points.",
                None,
            )
        case "RoundsNotFinished", (job, done, rounds):
            return (f"Job {job} has finished {done} of {rounds} rounds.", None)
        case "NoParticipants", (job,):
            return (f"Job {job} has no participant with live consent.", None)
        case "AccessControlUnauthorizedAccount", (account, _role):
            return (f"{account} does not hold the role this needs.", None)
        case "TimelockUnexpectedOperationState", _:
            return ("The timelock delay has not passed yet, or the proposal is not queued.", None)
        case "GovernorInvalidSignature", (voter,):
            return (f"The signed vote does not carry {voter}'s valid signature.", None)
        case "NothingToClaim", (job, asset):
            return (
                f"Asset {format_asset_id(asset)} has no reward waiting from job {job}.",
                "It was already claimed, or the asset took no part.",
            )
        case "AlreadyEnrolled", (job, asset):
            return (f"Asset {format_asset_id(asset)} is already enrolled in job {job}.", None)
        case "NotEnrolled", (job, asset):
            return (f"Asset {format_asset_id(asset)} is not enrolled in job {job}.", None)
        case "NotSampled", (job, rnd, asset):
            return (
                f"Asset {format_asset_id(asset)} is not in round {rnd}'s sample of job {job}.",
                "Record only updates of the assets the round sampled (Jobs.sampled).",
            )
        case "SampleNotEmpty", (job, rnd):
            return (f"Round {rnd} of job {job} sampled assets: it cannot abort.", None)
        case "SamplingWithSecureAggregation", ():
            return (
                "Sampling with secure aggregation is not supported yet.",
                "Propose the job without sampling, or without secure aggregation.",
            )
        case "InvalidSampling", (bps, count):
            return (
                f"A job samples by a rate or by a count, not both, and a count no larger than "
                f"its most assets (rate {bps} basis points, count {count}).",
                None,
            )
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
            return (f"There is no data asset {format_asset_id(asset)}.", None)
    return (f"The chain refused to {call}: {name}{args}.", None)


def refusal(call: str, exc: BaseException) -> TransactionRefused | None:
    data = revert_data(exc)
    if data is None or len(data) < 4:
        return None
    name, args = decode_revert(data)
    message, hint = explain(call, name, args)
    return TransactionRefused(message, call=call, reason=name, args=args, hint=hint)
