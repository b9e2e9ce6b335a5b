"""Signatures: EIP-191 for node messages, EIP-712 typed data for consent receipts."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_utils import to_checksum_address

from dain.costs import timed
from dain.identity.errors import SignatureError
from dain.identity.keys import Identity


@timed("signature")
def sign_message(identity: Identity, message: bytes) -> bytes:
    """EIP-191 ("personal_sign") signature of `message`, 65 bytes."""
    return bytes(identity.account.sign_message(encode_defunct(primitive=message)).signature)


_HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


def _check_canonical(signature: bytes) -> None:
    """Only the one form the chain accepts (OpenZeppelin's ECDSA): 65 bytes, v 27 or 28,
    s in the lower half. Any other form of a valid signature recovers the same signer,
    so a node would accept what the chain then refuses."""
    if len(signature) != 65 or signature[64] not in (27, 28):
        raise SignatureError(
            "The signature is malformed: it must be 65 bytes ending in v 27 or 28."
        )
    if int.from_bytes(signature[32:64], "big") > _HALF_ORDER:
        raise SignatureError("The signature is malformed: its s value is in the upper half.")


@timed("signature")
def recover_message_signer(message: bytes, signature: bytes) -> str:
    _check_canonical(signature)
    try:
        return Account.recover_message(encode_defunct(primitive=message), signature=signature)
    except Exception as exc:  # eth-keys raises several types for malformed signatures
        raise SignatureError(f"The signature is malformed ({exc}).") from exc


def verify_message(message: bytes, signature: bytes, address: str) -> None:
    signer = recover_message_signer(message, signature)
    if signer != to_checksum_address(address):
        raise SignatureError(f"The message was signed by {signer}, not by {address}.")


@timed("signature")
def sign_typed_data(identity: Identity, typed_data: dict[str, Any]) -> bytes:
    """EIP-712 signature of a full typed-data document (domain, types, message)."""
    return bytes(
        identity.account.sign_message(encode_typed_data(full_message=typed_data)).signature
    )


@timed("signature")
def recover_typed_data_signer(typed_data: dict[str, Any], signature: bytes) -> str:
    _check_canonical(signature)
    try:
        return Account.recover_message(
            encode_typed_data(full_message=typed_data), signature=signature
        )
    except Exception as exc:
        raise SignatureError(f"The signature is malformed ({exc}).") from exc
