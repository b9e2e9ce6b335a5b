"""Decentralized identifiers of the did:pkh method for EVM accounts (CAIP-10)."""

from __future__ import annotations

import re

from eth_utils import is_checksum_address, to_checksum_address

from dain.identity.errors import DidError

_DID = re.compile(r"^did:pkh:eip155:(?P<chain>[1-9][0-9]{0,19}):(?P<address>0x[0-9a-fA-F]{40})$")


def did_pkh(chain_id: int, address: str) -> str:
    """The DID of `address` on chain `chain_id`: ``did:pkh:eip155:<chainId>:<address>``."""
    if chain_id <= 0:
        raise DidError(f"chain id must be positive, got {chain_id}.")
    return f"did:pkh:eip155:{chain_id}:{to_checksum_address(address)}"


def parse_did(did: str) -> tuple[int, str]:
    """Returns (chain id, checksummed address) of a did:pkh DID."""
    match = _DID.match(did)
    if match is None:
        raise DidError(
            f"'{did}' is not a dain identity.",
            hint="Expected did:pkh:eip155:<chainId>:0x<40 hex digits>.",
        )
    address = match["address"]
    if address != address.lower() and not is_checksum_address(address):
        raise DidError(f"'{did}' has a mistyped address (its checksum does not match).")
    return int(match["chain"]), to_checksum_address(address)
