"""Passwords on the command line: never empty, asked for (hidden, twice for a new key) when
not given, taken from DAIN_PASSWORD for scripts, and never needed in argv, where every
user of the computer can read them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account
from typer.testing import CliRunner, Result

from dain.cli import app
from dain.errors import ConfigError
from dain.identity import Identity

PASSWORD = "\u216b \ufb01 caf\u00e9"  # a Roman numeral, a ligature, an accent
DECOMPOSED = "\u216b \ufb01 cafe\u0301"  # the same, é typed as e + combining accent


def _dain(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    # DAIN_PASSWORD unset unless given: the runner's environment must not leak into a test
    env = {"DAIN_PASSWORD": None, **(env or {})}
    return CliRunner().invoke(app, list(args), input=input, env=env)  # type: ignore[arg-type]


def _refused(result: Result, reason: str) -> None:
    assert result.exit_code == 1
    assert isinstance(result.exception, ConfigError), result.output
    assert reason in str(result.exception)


def test_a_key_made_without_a_password_and_nobody_to_ask_is_refused(tmp_path: Path) -> None:
    # a real process with no terminal and nothing on stdin, as under a service manager
    env = {k: v for k, v in os.environ.items() if k != "DAIN_PASSWORD"}
    result = subprocess.run(
        [sys.executable, "-m", "dain", "key", "new", str(tmp_path / "key.json")],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=60,
        start_new_session=True,  # no controlling terminal to prompt on
    )  # fmt: skip

    assert result.returncode == 1
    assert "Error: No password was given" in result.stderr and "DAIN_PASSWORD" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "key.json").exists()


def test_a_key_is_made_with_the_password_from_the_environment(tmp_path: Path) -> None:
    result = _dain("key", "new", str(tmp_path / "key.json"), "--json",
                   env={"DAIN_PASSWORD": PASSWORD})  # fmt: skip

    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    assert Identity.load_keystore(tmp_path / "key.json", PASSWORD).address == made["address"]


def test_a_password_typed_twice_makes_the_key(tmp_path: Path) -> None:
    # the second time with é typed another way: the same password to the key
    typed = f"{PASSWORD}\n{DECOMPOSED}\n"

    result = _dain("key", "new", str(tmp_path / "key.json"), "--json", input=typed)

    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # typed unseen
    address = json.loads(result.stdout)["address"]
    assert Identity.load_keystore(tmp_path / "key.json", PASSWORD).address == address


@pytest.mark.parametrize(
    ("args", "typed", "reason"),
    [
        ((), "one\ntwo\n", "The two passwords differ"),
        ((), "\n", "cannot be empty"),
        (("--password", ""), None, "cannot be empty"),
        ((), "", "No password was given"),  # end of input at the prompt
    ],
    ids=["mismatch", "typed empty", "empty option", "end of input"],
)
def test_no_key_is_made_with_a_mistyped_or_empty_password(
    tmp_path: Path, args: tuple[str, ...], typed: str | None, reason: str
) -> None:
    result = _dain("key", "new", str(tmp_path / "key.json"), *args, input=typed)

    _refused(result, reason)
    assert not (tmp_path / "key.json").exists()


def test_a_key_made_with_no_password_by_an_older_dain_gets_one(tmp_path: Path) -> None:
    identity, path = Identity.create(), tmp_path / "old.json"
    path.write_text(json.dumps(Account.encrypt(identity.account.key, "", iterations=2**10)))
    env = {"DAIN_KEYSTORE": str(path)}

    # commands that open a key refuse the empty password and say how to fix it
    opening = _dain("gov", "delegate", "--home", str(tmp_path), input="\n", env=env)
    _refused(opening, "dain key passwd")
    # Enter for the current password, then the new one twice
    changed = _dain("key", "passwd", str(path), input=f"\n{PASSWORD}\n{PASSWORD}\n")

    assert changed.exit_code == 0, changed.output
    assert Identity.load_keystore(path, PASSWORD).address == identity.address
    assert path.stat().st_mode & 0o777 == 0o600 and not path.with_suffix(".json.new").exists()


def test_the_help_warns_that_a_password_in_the_command_line_is_visible() -> None:
    for command in (["key", "new"], ["node", "start"], ["gov", "vote"], ["consent", "revoke"]):
        result = _dain(*command, "--help", env={"COLUMNS": "200"})
        assert "ps" in result.output and "DAIN_PASSWORD" in result.output, command
