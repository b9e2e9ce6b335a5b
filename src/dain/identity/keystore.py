"""The Ethereum v3 keystore file as dain reads it: passwords normalized the way ethers
and other wallets normalize them, and a file checked before any work is spent on it.

A keystore names its own key-derivation work (scrypt's n, r, p; PBKDF2's rounds), and a
library will spend whatever a file asks: minutes of CPU or gigabytes of memory. dain opens
only files within the bounds below, which every common wallet's defaults fit in.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

from dain.identity.errors import KeystoreError

MAX_FILE_BYTES = 64 * 1024  # a v3 keystore is under 1 KB
# geth's standard scrypt is n=2**18, r=8, p=1 (256 MiB); ethers' is n=2**17
MAX_SCRYPT_N = 2**20
MAX_SCRYPT_P = 16
MAX_SCRYPT_MEMORY = 2**30  # bytes scrypt allocates: 128 * r * n
MAX_PBKDF2_ROUNDS = 10_000_000  # geth uses 262,144, eth-account 1,000,000
KEY_BYTES = 32  # v3: 16 bytes of AES key, then 16 that key the MAC


def normalized(password: str) -> str:
    """The password as key derivation sees it: NFKC, as ethers (v5 and v6) derives it, so
    one password opens a keystore in either, however a keyboard composed its letters."""
    return unicodedata.normalize("NFKC", password)


def require_password(password: str) -> str:
    """`password`, normalized, if it is not empty."""
    if not normalized(password):
        raise KeystoreError(
            "A key's password cannot be empty.",
            hint="Choose one: anyone who copies the keystore file could otherwise use the key.",
        )
    return normalized(password)


def read_keystore(path: Path) -> dict[str, Any]:
    """The keystore in `path` if it is a v3 keystore dain is willing to open."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError as exc:
        raise KeystoreError(
            f"No keystore at {path}.", hint="Create one with 'dain node init'."
        ) from exc
    except OSError as exc:
        raise KeystoreError(f"Could not read {path}: {exc.strerror}.") from exc
    if len(data) > MAX_FILE_BYTES:
        raise KeystoreError(f"{path} is not a keystore file (far too large).")
    try:
        keystore = json.loads(data)
    # ValueError: not JSON, not UTF-8, or an integer of thousands of digits
    except (ValueError, RecursionError) as exc:
        raise KeystoreError(f"{path} is not a keystore file (not valid JSON).") from exc
    _check_v3(keystore, path)
    return keystore


def _check_v3(keystore: Any, path: Path) -> None:
    if not isinstance(keystore, dict) or keystore.get("version") != 3:
        raise KeystoreError(f"{path} is not a version 3 Ethereum keystore.")
    # geth writes "crypto", ethers v6 "Crypto"
    crypto = keystore.get("crypto", keystore.get("Crypto"))
    params = crypto.get("kdfparams") if isinstance(crypto, dict) else None
    if not isinstance(params, dict):
        raise KeystoreError(f"{path} is not a v3 keystore (it has no key-derivation settings).")
    kdf = crypto.get("kdf")
    if kdf == "scrypt":
        n, r, p, size = (_whole(params, name, path) for name in ("n", "r", "p", "dklen"))
        fits = (
            1 < n <= MAX_SCRYPT_N and n & (n - 1) == 0
            and r >= 1 and 1 <= p <= MAX_SCRYPT_P and 128 * r * n <= MAX_SCRYPT_MEMORY
        )  # fmt: skip
        work = f"scrypt n={n}, r={r}, p={p}"
    elif kdf == "pbkdf2":
        rounds, size = _whole(params, "c", path), _whole(params, "dklen", path)
        fits = params.get("prf") == "hmac-sha256" and 1 <= rounds <= MAX_PBKDF2_ROUNDS
        work = f"PBKDF2 with {params.get('prf')!r}, {rounds} rounds"
    else:
        raise KeystoreError(f"{path} uses key derivation {kdf!r}; dain reads scrypt and pbkdf2.")
    if not fits or size != KEY_BYTES:
        raise KeystoreError(
            f"{path} asks for key-derivation settings dain does not accept ({work}, "
            f"{size}-byte key); the file may be damaged.",
            hint="Re-encrypt the key with a wallet's default settings.",
        )


def _whole(params: dict[str, Any], name: str, path: Path) -> int:
    value = params.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise KeystoreError(f"{path}: key-derivation setting '{name}' must be a whole number.")
    return value
