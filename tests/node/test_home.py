"""A node's settings file: what it accepts, and the plain errors for what it does not."""

from pathlib import Path

import pytest

from dain.errors import ConfigError
from dain.node import NetworkHome
from dain.node.home import AutoEnrollConfig, NodeConfig, NodeHome


def _home(tmp_path: Path, settings: str) -> NodeHome:
    home = NodeHome(tmp_path / "node")
    home.root.mkdir()
    home.config_file.write_text(settings)
    return home


def test_settings_round_trip_through_the_file(tmp_path: Path) -> None:
    config = NodeConfig(name="st-mary", port=8611, poll_seconds=0.2, train_threads=2)
    home = _home(tmp_path, config.to_toml())
    assert home.config() == config


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ('name = "a"\ncolour = "red"\n', "unknown settings: colour"),
        ('name = "a"\ntrain_threads = -1\n', "train_threads must be a whole number"),
        ('name = "a"\ntrain_threads = 1.5\n', "train_threads must be a whole number"),
        ("port = 8600\n", "incomplete"),
        ("name = \n", "not valid TOML"),
        ('name = "a"\nport = ' + "9" * 20_000 + "\n", "not valid TOML"),
    ],
)
def test_bad_settings_are_named(tmp_path: Path, settings: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        _home(tmp_path, settings).config()


def test_a_missing_home_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        NodeHome(tmp_path / "nowhere").config()
    assert "dain node init" in (refused.value.hint or "")


@pytest.mark.parametrize("record", ["{", "[1]", '{"pid": ' + "9" * 20_000 + "}"])
def test_a_damaged_chain_record_is_named(tmp_path: Path, record: str) -> None:
    home = NetworkHome(tmp_path)
    home.chain_record.write_text(record)

    with pytest.raises(ConfigError, match="is damaged"):
        home.read_chain()


def test_auto_enroll_and_log_level_round_trip_through_the_file(tmp_path: Path) -> None:
    config = NodeConfig(
        name="st-mary", log_level="debug",
        auto_enroll=AutoEnrollConfig(True, purposes=("diagnosis",), assets=("0x0ab1",)),
    )  # fmt: skip
    home = _home(tmp_path, config.to_toml())

    assert home.config() == config
    assert home.config().auto_enroll.asset_ids() == {0xAB1}
    # a home written before these settings existed reads with them off and at info
    (tmp_path / "older").mkdir()
    older = _home(tmp_path / "older", 'name = "a"\n').config()
    assert older.auto_enroll == AutoEnrollConfig() and older.log_level == "info"


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ('log_level = "loud"\n', "log_level must be one of debug, info, warning, error"),
        ("[auto_enroll]\nenabled = 1\n", r"\[auto_enroll\] enabled must be true or false"),
        ('[auto_enroll]\npurposes = "diagnosis"\n', "purposes must be a list of strings"),
        ('[auto_enroll]\nassets = ["12"]\n', "'12' is not an asset id"),
        ('[auto_enroll]\nassets = ["0xzz"]\n', "'0xzz' is not an asset id"),
        ("[auto_enroll]\nenable = true\n", "unknown settings: enable"),
        ('auto_enroll = "yes"\n', r"\[auto_enroll\] must be a table"),
    ],
)
def test_bad_new_settings_are_named(tmp_path: Path, settings: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        _home(tmp_path, 'name = "a"\n' + settings).config()
