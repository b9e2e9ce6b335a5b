"""Asset ids on the command line: a truncated or garbled one is refused with the form an id
takes, never read as some other asset; the whole id is taken with or without 0x and
leading zeros, and as the decimal token id a wallet shows."""

from __future__ import annotations

import hashlib

import pytest

from dain.data import AssetManifest, ConsentPolicy
from tests.cli.test_governance_cli import Network, network  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow


def test_a_truncated_asset_id_is_refused_naming_the_form(network: Network) -> None:  # noqa: F811
    owner = network.ledger(network.owner)
    manifest = AssetManifest("typed ids", ("x",), "y", ("0", "1"), 100,
                             hashlib.sha256(b"typed-ids").hexdigest())  # fmt: skip
    asset = owner.assets.register(manifest, "bafkreim", ConsentPolicy(("diagnosis",)), "p")
    whole = f"0x{asset:064x}"

    for typed in (whole, whole[2:], hex(asset), str(asset)):
        assert network.ok("consent", "show", typed)["asset_id"] == whole, typed
    for typed, says in ((whole[:10], "has 8 of 64 hex digits"),
                        (whole[:14] + "…", "shortened asset id"),
                        (whole[:-1] + "g", "is not a hex digit")):  # fmt: skip
        refused = network.run("consent", "show", typed)
        assert refused.returncode == 1, typed
        assert refused.stderr.startswith("Error:") and "Traceback" not in refused.stderr
        assert says in refused.stderr and "0x followed by 64 hex digits" in refused.stderr
    revoke = network.run("consent", "revoke", whole[:20], keystore=network.owner)
    assert revoke.returncode == 1 and "not a whole asset id" in revoke.stderr
    assert network.ok("consent", "show", whole)["revoked"] is False  # nothing was revoked
