"""`dain key import`: a key made elsewhere (an ethers or dain keystore, or a raw private key
in a file or typed unseen) becomes a dain keystore with the same address. A private key is
never an argument: shell history and 'ps' would keep it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from eth_account import Account
from typer.testing import CliRunner, Result

from dain.cli import app
from dain.errors import DainError
from dain.identity import Identity

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "caf\u00e9 au lait"
FAST_SCRYPT = 2**10

ETHERS_KEYSTORE = """
const { Wallet, encryptKeystoreJsonSync } = require("ethers");
const wallet = Wallet.createRandom();
const account = { address: wallet.address, privateKey: wallet.privateKey };
require("fs").writeFileSync(process.env.DAIN_TEST_KEYSTORE, encryptKeystoreJsonSync(
    account, process.env.DAIN_TEST_PASSWORD, { scrypt: { N: 1024 } }));
console.log(wallet.address);
"""


def _dain(*args: str, input: str | None = None, password: str | None = PASSWORD) -> Result:
    env = {"DAIN_PASSWORD": password, "DAIN_NEW_PASSWORD": None}
    return CliRunner().invoke(app, list(args), input=input, env=env)  # type: ignore[arg-type]


def _imported(result: Result, out: Path, password: str = PASSWORD) -> str:
    """The address imported, after checking the new keystore opens with `password`."""
    assert result.exit_code == 0, result.output
    address = json.loads(result.stdout)["address"]
    assert Identity.load_keystore(out, password).address == address
    assert out.stat().st_mode & 0o777 == 0o600
    return str(address)


def _refused(result: Result, *words: str) -> None:
    assert result.exit_code == 1
    assert isinstance(result.exception, DainError), result.output
    for word in words:
        assert word in str(result.exception)


@pytest.mark.node
def test_a_keystore_ethers_made_is_imported_with_its_password(tmp_path: Path) -> None:
    source, out = tmp_path / "ethers.json", tmp_path / "dain.json"
    env = os.environ | {"DAIN_TEST_KEYSTORE": str(source), "DAIN_TEST_PASSWORD": PASSWORD}
    made = subprocess.run(["node", "-e", ETHERS_KEYSTORE], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert made.returncode == 0, made.stderr

    result = _dain("key", "import", str(out), "--keystore", str(source), "--json")

    assert _imported(result, out) == made.stdout.strip()
    # re-encrypted with dain's settings, not the weak ones the file came with
    assert json.loads(out.read_text())["crypto"]["kdfparams"]["n"] == 2**18


def test_a_keystore_dain_made_is_imported(tmp_path: Path) -> None:
    identity, source, out = Identity.create(), tmp_path / "old.json", tmp_path / "new.json"
    identity.save_keystore(source, PASSWORD, scrypt_n=FAST_SCRYPT)

    result = _dain("key", "import", str(out), "--keystore", str(source), "--json")

    assert _imported(result, out) == identity.address


def test_a_wrong_password_imports_nothing(tmp_path: Path) -> None:
    source, out = tmp_path / "key.json", tmp_path / "out.json"
    Identity.create().save_keystore(source, PASSWORD, scrypt_n=FAST_SCRYPT)

    result = _dain("key", "import", str(out), "--keystore", str(source), password="wrong")

    _refused(result, "Could not unlock", "password is wrong")
    assert not out.exists()


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda text: text[: len(text) // 2], "not valid JSON"),
        (lambda text: text.replace('"ciphertext": "', '"ciphertext": "00'), "password is wrong"),
        (lambda text: text.replace('"version": 3', '"version": 2'), "not a version 3"),
        (lambda text: text.replace('"n": 1024', '"n": 1073741824'), "does not accept"),
    ],
    ids=["truncated", "ciphertext", "version", "hostile scrypt"],
)
def test_a_damaged_keystore_imports_nothing(tmp_path: Path, damage: object, reason: str) -> None:
    source, out = tmp_path / "key.json", tmp_path / "out.json"
    Identity.create().save_keystore(source, PASSWORD, scrypt_n=FAST_SCRYPT)
    text = json.dumps(json.loads(source.read_text()), indent=1)
    source.write_text(damage(text))  # type: ignore[operator]

    _refused(_dain("key", "import", str(out), "--keystore", str(source)), reason)
    assert not out.exists()


def test_a_raw_key_from_a_file_gets_a_new_password(tmp_path: Path) -> None:
    account, key_file, out = Account.create(), tmp_path / "key.hex", tmp_path / "out.json"
    key_file.write_text(account.key.hex() + "\n")  # no 0x, a newline, as editors save it

    result = _dain("key", "import", str(out), "--key-file", str(key_file), "--json",
                   password=None, input=f"{PASSWORD}\n{PASSWORD}\n")  # fmt: skip

    assert _imported(result, out) == account.address
    assert account.key.hex() not in result.output


def test_a_raw_key_typed_unseen_is_imported(tmp_path: Path) -> None:
    account, out = Account.create(), tmp_path / "out.json"

    result = _dain("key", "import", str(out), "--json", input=f"0x{account.key.hex()}\n")

    assert _imported(result, out) == account.address
    assert account.key.hex() not in result.output  # the prompt did not echo it


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("not a key\n", "is not a private key"),
        ("0x1234\n", "is not a private key"),
        ("0" * 64, "not a valid secp256k1"),
        ("f" * 64, "not a valid secp256k1"),  # above the curve's order
        ('{"version": 3}', "--keystore"),
        ("a" * 10_000, "far too large"),
    ],
    ids=["words", "short", "zero", "over the order", "a keystore", "huge"],
)
def test_a_key_file_that_holds_no_key_imports_nothing(
    tmp_path: Path, content: str, reason: str
) -> None:
    key_file, out = tmp_path / "key.hex", tmp_path / "out.json"
    key_file.write_text(content)

    _refused(_dain("key", "import", str(out), "--key-file", str(key_file)), reason)
    assert not out.exists()


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    out.write_text("mine")

    _refused(_dain("key", "import", str(out), input=f"{Account.create().key.hex()}\n"),
             "already exists")  # fmt: skip
    assert out.read_text() == "mine"


def test_there_is_no_way_to_pass_a_private_key_as_an_argument() -> None:
    options = _dain("key", "import", "--help").output

    assert "--key-file" in options and "--private-key" not in options
    unknown = _dain("key", "import", "out.json", "--private-key", "0x" + "1" * 64)
    assert unknown.exit_code == 2 and "No such option" in unknown.output


def test_a_key_given_where_the_path_goes_is_refused_and_written_nowhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "0x" + Account.create().key.hex()
    monkeypatch.chdir(tmp_path)  # where a file named after the key would land

    _refused(_dain("key", "import", key), "looks like a private key", "shell history")
    assert list(tmp_path.iterdir()) == []


def test_node_init_keeps_an_existing_key_and_makes_no_home_when_it_does_not_open(
    tmp_path: Path,
) -> None:
    identity, keystore = Identity.create(), tmp_path / "mine.json"
    identity.save_keystore(keystore, PASSWORD, scrypt_n=FAST_SCRYPT)
    (tmp_path / "deployment.json").write_text("{}")  # init only checks that it exists
    common = ["node", "init", "--name", "clinic", "--deployment", str(tmp_path / "deployment.json"),
              "--keystore", str(keystore), "--json"]  # fmt: skip

    wrong = _dain(*common, "--home", str(tmp_path / "wrong"), password="not it")
    made = _dain(*common, "--home", str(tmp_path / "clinic"))

    _refused(wrong, "Could not unlock")
    assert not (tmp_path / "wrong").exists()
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["address"] == identity.address
    # the home's own copy opens with the same password, under dain's settings
    home_key = tmp_path / "clinic" / "keystore.json"
    assert Identity.load_keystore(home_key, PASSWORD).address == identity.address
