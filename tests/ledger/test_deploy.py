from __future__ import annotations

from pathlib import Path

import pytest

from dain.identity import Identity
from dain.ledger import ChainUnavailable, Deployment, DeploymentError, EmbeddedChain, Ledger
from tests.conftest import ChainNet


def test_deployment_record_round_trips(chain_net: ChainNet, tmp_path: Path) -> None:
    path = tmp_path / "deployment.json"
    chain_net.root.deployment.save(path)

    assert Deployment.load(path) == chain_net.root.deployment


def test_missing_or_malformed_deployment_is_explained(tmp_path: Path) -> None:
    with pytest.raises(DeploymentError, match="Deploy the contracts first"):
        Deployment.load(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text('{"token": 1}')
    with pytest.raises(DeploymentError, match="not a dain deployment record"):
        Deployment.load(tmp_path / "bad.json")
    (tmp_path / "huge.json").write_text('{"token": ' + "9" * 20_000 + "}")
    with pytest.raises(DeploymentError, match="not a dain deployment record"):
        Deployment.load(tmp_path / "huge.json")


def test_client_refuses_a_deployment_from_another_chain(chain_net: ChainNet) -> None:
    elsewhere = Deployment(
        chain_id=1, **{k: v for k, v in vars(chain_net.root.deployment).items() if k != "chain_id"}
    )
    with pytest.raises(ChainUnavailable, match="deployed on chain 1"):
        Ledger(EmbeddedChain(), elsewhere, Identity.create())
