"""`dain consent update` changes only the terms given, amounts are in DAIN, and the mistakes
a user makes (a past expiry, revoking twice, changing nothing) get plain answers."""

from __future__ import annotations

import hashlib

import pytest

from dain.data import AssetManifest, ConsentPolicy
from tests.cli.test_governance_cli import Network, network  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow


def test_an_update_keeps_every_term_it_does_not_restate(network: Network) -> None:  # noqa: F811
    owner = network.ledger(network.owner)
    manifest = AssetManifest("kept terms", ("x",), "y", ("0", "1"), 100,
                             hashlib.sha256(b"kept-terms").hexdigest())  # fmt: skip
    asset = f"0x{owner.assets.register(manifest, 'bafkreim', ConsentPolicy(('diagnosis',)), 'bafkreip'):064x}"  # noqa: E501

    first = network.ok("consent", "update", asset, "--max-epsilon", "5", "--price", "0.5",
                       "--expiry", "2099-01-01", keystore=network.owner)  # fmt: skip
    assert first["price_per_round"] == "0.5 DAIN"
    assert first["price_per_round_base_units"] == str(5 * 10**17)
    second = network.ok("consent", "update", asset, "--purpose", "research",
                        keystore=network.owner)  # fmt: skip
    assert second["purposes"] == ["research"]
    assert second["max_epsilon"] == 5.0 and second["price_per_round"] == "0.5 DAIN"
    assert second["expiry"] == 4070908800 and second["version"] == 3

    past = network.run("consent", "update", asset, "--expiry", "2001-01-01", keystore=network.owner)
    assert past.returncode == 1 and "already past" in past.stderr
    assert "Traceback" not in past.stderr
    nothing = network.run("consent", "update", asset, keystore=network.owner)
    assert nothing.returncode == 1 and "Nothing to change" in nothing.stderr
    bad_price = network.run("consent", "update", asset, "--price", "1000 wei",
                            keystore=network.owner)  # fmt: skip
    assert bad_price.returncode == 1 and "not an amount of DAIN" in bad_price.stderr

    assert network.ok("consent", "revoke", asset, keystore=network.owner)["revoked"]
    twice = network.run("consent", "revoke", asset, keystore=network.owner)
    assert twice.returncode == 1 and "already revoked" in twice.stderr
    assert "Traceback" not in twice.stderr and "AlreadyRevoked(" not in twice.stderr
