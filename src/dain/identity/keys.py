"""A participant's identity: one secp256k1 key, stored in an Ethereum keystore (v3)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from eth_account import Account
from eth_account.signers.local import LocalAccount

from dain.identity.did import did_pkh
from dain.identity.errors import KeystoreError
from dain.identity.keystore import normalized, read_keystore, require_password


@dataclass(frozen=True)
class Identity:
    """A key pair. It signs transactions, node messages and consent receipts."""

    account: LocalAccount = field(repr=False)

    @classmethod
    def create(cls) -> Identity:
        return cls(Account.create())

    @classmethod
    def from_private_key(cls, key: bytes | str) -> Identity:
        return cls(Account.from_key(key))

    @property
    def address(self) -> str:
        return self.account.address

    @property
    def public_key(self) -> bytes:
        """The 64-byte uncompressed secp256k1 public key (peers verify envelopes with it)."""
        return bytes(self.account._key_obj.public_key.to_bytes())

    def did(self, chain_id: int) -> str:
        return did_pkh(chain_id, self.address)

    def derive_secret(self, label: str) -> bytes:
        """A 32-byte secret for one purpose (`label`), derived from this key with HKDF, so
        a node can always recompute it and never has to store it."""
        hkdf = HKDF(hashes.SHA256(), 32, salt=b"dain derived secret", info=label.encode())
        return hkdf.derive(bytes(self.account.key))

    def save_keystore(self, path: Path, password: str, *, scrypt_n: int = 2**18) -> None:
        """Writes an encrypted v3 keystore; refuses to overwrite an existing key and refuses
        an empty password. The password is NFKC-normalized first, as ethers does, so the
        file opens in any wallet with the same password."""
        secret = require_password(password)
        if path.exists():
            raise KeystoreError(
                f"{path} already holds a key; dain will not overwrite it.",
                hint="Choose another path or move the old keystore away first.",
            )
        keystore = Account.encrypt(self.account.key, secret, kdf="scrypt", iterations=scrypt_n)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(keystore, handle)

    @classmethod
    def load_keystore(cls, path: Path, password: str) -> Identity:
        """Opens a v3 keystore (dain's, geth's, ethers' or any wallet's). The password is
        tried NFKC-normalized, as ethers derives it, then as given (keys saved before dain
        normalized passwords). An empty password opens only a key saved with none."""
        keystore = read_keystore(path)
        tries = list(dict.fromkeys((normalized(password), password)))
        key = None
        try:
            for secret in tries:
                try:
                    key = Account.decrypt(keystore, secret)
                    break
                except ValueError:  # the MAC does not match: wrong password, or damage
                    continue
        except KeyError as exc:
            raise KeystoreError(f"{path} is not a v3 keystore (it lacks {exc}).") from exc
        except TypeError as exc:  # a field of the wrong kind: a list where text belongs
            raise KeystoreError(f"{path} is not a v3 keystore ({exc}).") from exc
        if key is None:
            raise KeystoreError(
                f"Could not unlock {path}: the password is wrong or the file is damaged."
            )
        try:
            identity = cls.from_private_key(key)
        except ValueError as exc:
            raise KeystoreError(f"{path} is damaged: it holds no valid key.") from exc
        named = keystore.get("address")
        if isinstance(named, str) and named.lower().removeprefix("0x") != (
            identity.address.lower().removeprefix("0x")
        ):
            raise KeystoreError(f"{path} is damaged: its key is not that of {named}.")
        return identity
