"""Revert data from either backend becomes a named, explained refusal."""

from __future__ import annotations

from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from dain.ledger.revert import decode_revert, refusal, revert_data


def _error(signature: str, types: list[str], values: list[object]) -> bytes:
    return function_signature_to_4byte_selector(signature) + encode(types, values)


def test_eth_tester_style_message_is_decoded() -> None:
    data = _error("NothingToClaim(uint256,uint256)", ["uint256", "uint256"], [3, 0xABC])
    exc = Exception(f"execution reverted: {data!r}")

    assert revert_data(exc) == data
    refused = refusal("claim reward", exc)
    assert refused is not None
    assert refused.reason == "NothingToClaim" and refused.args_decoded == (3, 0xABC)
    assert "job 3" in refused.message


def test_rpc_style_hex_data_is_decoded() -> None:
    data = _error("ConsentRefused(uint256,uint8)", ["uint256", "uint8"], [7, 1])

    class RpcError(Exception):
        pass

    exc = RpcError("reverted")
    exc.data = "0x" + data.hex()  # type: ignore[attr-defined]

    refused = refusal("enroll asset", exc)
    assert refused is not None and "revoked" in refused.message


def test_unknown_selector_is_reported_not_crashed() -> None:
    name, args = decode_revert(b"\xde\xad\xbe\xef")
    assert name == "UnknownError" and args == ("deadbeef",)
