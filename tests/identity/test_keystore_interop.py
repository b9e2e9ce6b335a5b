"""A keystore opens the same in dain and in ethers (v6), the library most Ethereum wallets
and dashboards build on: ethers NFKC-normalizes a password before deriving the key, so
dain must too, or a password with accents or ligatures opens its key in one and not the
other. Run through Node.js with the npm package pinned in package.json."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from dain.identity import Identity

pytestmark = pytest.mark.node

ROOT = Path(__file__).resolve().parents[2]
FAST_SCRYPT = 2**10
# the same password typed three ways: a Roman numeral and a ligature (compatibility
# characters) and é as one code point, as e plus a combining accent, and in NFKC form
COMPOSED = "\u216b \ufb01 caf\u00e9"
DECOMPOSED = "\u216b \ufb01 cafe\u0301"
NFKC = "XII fi caf\u00e9"

ETHERS = """
const { Wallet, decryptKeystoreJsonSync, encryptKeystoreJsonSync } = require("ethers");
const { DAIN_TEST_MODE: mode, DAIN_TEST_PASSWORD: password, DAIN_TEST_KEYSTORE: file } =
    process.env;
if (mode === "make") {
    const wallet = Wallet.createRandom();
    const account = { address: wallet.address, privateKey: wallet.privateKey };
    require("fs").writeFileSync(file, encryptKeystoreJsonSync(account, password,
                                                              { scrypt: { N: 1024 } }));
    console.log(wallet.address);
} else {
    console.log(decryptKeystoreJsonSync(require("fs").readFileSync(file, "utf8"), password)
        .address);
}
"""


def _ethers(mode: str, keystore: Path, password: str) -> str:
    """What ethers answers: the address it made or opened (the password goes by the
    environment, never argv)."""
    env = os.environ | {
        "DAIN_TEST_MODE": mode, "DAIN_TEST_PASSWORD": password, "DAIN_TEST_KEYSTORE": str(keystore)
    }  # fmt: skip
    result = subprocess.run(["node", "-e", ETHERS], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_keystore_dain_made_opens_in_ethers_with_the_password_in_any_form(
    tmp_path: Path,
) -> None:
    identity, keystore = Identity.create(), tmp_path / "dain.json"
    identity.save_keystore(keystore, COMPOSED, scrypt_n=FAST_SCRYPT)

    opened = {form: _ethers("open", keystore, form) for form in (COMPOSED, DECOMPOSED, NFKC)}

    assert opened == dict.fromkeys((COMPOSED, DECOMPOSED, NFKC), identity.address)


def test_a_keystore_ethers_made_opens_in_dain_with_the_password_in_any_form(
    tmp_path: Path,
) -> None:
    keystore = tmp_path / "ethers.json"
    address = _ethers("make", keystore, DECOMPOSED)
    assert json.loads(keystore.read_text())["Crypto"]["kdfparams"]["n"] == 1024

    opened = {form: Identity.load_keystore(keystore, form).address
              for form in (COMPOSED, DECOMPOSED, NFKC)}  # fmt: skip

    assert opened == dict.fromkeys((COMPOSED, DECOMPOSED, NFKC), address)
