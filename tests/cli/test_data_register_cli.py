"""`dain data register` takes any data dain reads (issue 14, point 2): a folder of images
becomes an asset whose manifest names its kind and shape, the node reloads it at the size it
was registered at (else its commitment would break and it would sit out), and the same
images copied elsewhere are refused as a second asset."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dain.data import write_digit_images
from dain.devnet.home import admit_founder
from dain.identity import Identity
from dain.ledger import TOKEN_UNIT, Ledger, NetworkParams, RpcChain, deploy, free_port
from dain.ledger.anvil import AnvilProcess
from dain.node import NodeHome, open_node

pytestmark = pytest.mark.slow
PASSWORD = "image owner"


def _dain(*args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DAIN_PASSWORD": PASSWORD}
    return subprocess.run([sys.executable, "-m", "dain", *args], capture_output=True, text=True,
                          timeout=120, env=env, stdin=subprocess.DEVNULL)  # fmt: skip


def test_an_image_folder_is_registered_reloaded_at_its_size_and_not_twice(
    anvil: AnvilProcess, tmp_path: Path
) -> None:
    chain = RpcChain(anvil.url)
    treasury = Identity.create()
    chain.fund(treasury.address, 10**20)
    params = NetworkParams(voting_delay=1, voting_period=5, quorum_percent=4,
                           token_supply=100_000 * TOKEN_UNIT)  # fmt: skip
    deployment = deploy(chain.web3, treasury, params, gas_limit=chain.gas_limit)
    deployment.save(tmp_path / "dep.json")
    ledger = Ledger(chain, deployment, treasury)
    home = tmp_path / "clinic"
    created = _dain("node", "init", "--name", "clinic", "--home", str(home), "--port",
                    str(free_port()), "--rpc", anvil.url, "--deployment",
                    str(tmp_path / "dep.json"), "--json")  # fmt: skip
    assert created.returncode == 0, created.stderr
    admit_founder(ledger, json.loads(created.stdout)["address"], tokens=0)
    images = write_digit_images(tmp_path / "digits", owners=1, test_fraction=0.5).owners[0]
    common = ("--title", "scans", "--purpose", "diagnosis", "--home", str(home))

    registered = _dain("data", "register", str(images), "--size", "16x16", *common, "--json")
    labelled = _dain("data", "register", str(images), "--target", "label", *common)
    shutil.copytree(images, tmp_path / "copy")
    twice = _dain("data", "register", str(tmp_path / "copy"), *common)

    assert registered.returncode == 0, registered.stderr
    asset_id = json.loads(registered.stdout)["asset_id"]
    assert labelled.returncode == 1 and "its subfolders' names" in labelled.stderr
    assert twice.returncode == 1 and "already registered here as asset" in twice.stderr
    assert asset_id in twice.stderr and "Traceback" not in twice.stderr
    node, _ = open_node(NodeHome(home), PASSWORD)
    (asset,) = node.assets.values()  # reloaded at 16 x 16: the commitment still holds
    assert asset.dataset.example_shape == (1, 16, 16) and asset.dataset.kind == "image"
    assert asset.manifest.kind == "image" and asset.manifest.shape == (1, 16, 16)
