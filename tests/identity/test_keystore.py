"""Keystore files: no key is saved without a password, passwords open keys the way ethers
opens them, and a damaged or hostile file is refused in plain words, at once."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from dain.identity import Identity, KeystoreError

FAST_SCRYPT = 2**10


def test_a_key_is_never_saved_without_a_password(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="cannot be empty"):
        Identity.create().save_keystore(tmp_path / "key.json", "", scrypt_n=FAST_SCRYPT)

    assert not (tmp_path / "key.json").exists()


def test_keys_saved_before_passwords_were_normalized_still_open(tmp_path: Path) -> None:
    # what dain wrote before: the password's bytes as typed (here é as e + accent), and
    # no password at all when none was given
    identity = Identity.create()
    for name, password in (("accent.json", "cafe\u0301"), ("empty.json", "")):
        keystore = Account.encrypt(identity.account.key, password, iterations=FAST_SCRYPT)
        (tmp_path / name).write_text(json.dumps(keystore))

    assert Identity.load_keystore(tmp_path / "accent.json", "cafe\u0301").address == (
        identity.address
    )
    assert Identity.load_keystore(tmp_path / "empty.json", "").address == identity.address
    with pytest.raises(KeystoreError, match="password is wrong"):
        Identity.load_keystore(tmp_path / "accent.json", "cafe")


def _mangled(tmp_path: Path, change: Callable[[dict[str, Any]], object]) -> Path:
    path = tmp_path / "key.json"
    if not path.exists():
        Identity.create().save_keystore(path, "pw", scrypt_n=FAST_SCRYPT)
    keystore = json.loads(path.read_text())
    change(keystore)
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(keystore))
    return changed


def _kdf(**params: object) -> Callable[[dict[str, Any]], object]:
    return lambda keystore: keystore["crypto"]["kdfparams"].update(params)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        # each of these made eth-account spend minutes, gigabytes or raise AssertionError
        (_kdf(dklen=10**9), "does not accept"),
        (_kdf(n=2**40), "does not accept"),
        (_kdf(n=2**20, r=2**10), "does not accept"),
        (_kdf(n=1000), "does not accept"),
        (_kdf(n="1024"), "must be a whole number"),
        (lambda k: k["crypto"].update(kdf="pbkdf2", kdfparams={"c": 1, "dklen": 32,
                                      "prf": "sha256", "salt": "00"}), "does not accept"),
        (lambda k: k["crypto"].update(kdf="argon2"), "scrypt and pbkdf2"),
        (lambda k: k.update(version=4), "not a version 3"),  # a BLS key, not ours
        (lambda k: k.clear(), "not a version 3"),
        (lambda k: k["crypto"].pop("ciphertext"), "lacks 'ciphertext'"),
        (lambda k: k.update(address="0x" + "00" * 20), "its key is not that of"),
    ],
    ids=["huge dklen", "huge n", "huge memory", "n not a power of 2", "n as text",
         "pbkdf2 without hmac", "unknown kdf", "version 4", "empty", "no ciphertext",
         "another address"],
)
def test_a_damaged_or_hostile_keystore_is_refused_at_once(
    tmp_path: Path, change: Callable[[dict[str, Any]], object], reason: str
) -> None:
    path = _mangled(tmp_path, change)

    # refused before any key derivation: dklen=10**9 alone would take many minutes
    with pytest.raises(KeystoreError, match=reason):
        Identity.load_keystore(path, "pw")


@pytest.mark.parametrize(
    "text",
    ['{"version": ' + "9" * 20_000 + "}", "[" * 50_000, "\xff\xfe", " " * 100_000],
    ids=["20,000-digit number", "deep nesting", "not UTF-8", "far too large"],
)
def test_a_file_that_is_not_a_keystore_is_refused_in_plain_words(
    tmp_path: Path, text: str
) -> None:
    path = tmp_path / "junk.json"
    path.write_bytes(text.encode("latin-1"))

    with pytest.raises(KeystoreError, match="not a keystore file"):
        Identity.load_keystore(path, "pw")
