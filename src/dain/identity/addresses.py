"""Account addresses typed by a user (on the command line or in the dashboard), checked
before they reach web3 (which answers a malformed one with a traceback)."""

from __future__ import annotations

from dain.errors import ConfigError

EXAMPLE = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # EIP-55's own example


def parse_address(text: str, what: str = "an address") -> str:
    """`text` as a checksummed address, or a ConfigError saying what is wrong with it.
    `what` names the role in the message ("the member to admit")."""
    from eth_utils import is_checksum_address, is_hex_address, to_checksum_address

    if not text.startswith(("0x", "0X")) or not is_hex_address(text):
        digits = text[2:] if text.startswith(("0x", "0X")) else text
        detail = f"{len(digits)} hex digits" if _is_hex(digits) else "not hex"
        raise ConfigError(
            f"'{text}' is not {what} ({detail}).",
            hint=f"An address is 0x followed by 40 hex digits, e.g. {EXAMPLE}; "
            "'dain key new' prints yours.",
        )
    digits = text[2:]
    if digits not in (digits.lower(), digits.upper()) and not is_checksum_address(text):
        raise ConfigError(
            f"'{text}' has a mistyped letter: its capitals do not match the address's checksum.",
            hint="Copy the address again, or give it all in lower case.",
        )
    return str(to_checksum_address(text))


def _is_hex(digits: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in digits)
