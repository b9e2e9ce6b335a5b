"""Data assets and their consent policies on chain."""

from __future__ import annotations

import hashlib

import pytest

from dain.data import ConsentPolicy
from dain.ledger import TransactionRefused
from tests.conftest import ChainNet


def test_asset_id_is_the_manifest_digest_and_owner_holds_the_token(chain_net: ChainNet) -> None:
    owner = chain_net.member()
    digest = hashlib.sha256(b"manifest").digest()

    asset = owner.assets.register(
        digest, "bafkreim", ConsentPolicy(("diagnosis", "research")), "bafkreip"
    )

    assert asset == int.from_bytes(digest, "big")
    assert owner.assets.owner_of(asset) == owner.address
    policy = owner.assets.policy(asset)
    assert policy.purposes == ("diagnosis", "research")
    assert (policy.revoked, policy.version, policy.policy_cid) == (False, 1, "bafkreip")


def test_same_manifest_cannot_be_registered_twice(chain_net: ChainNet) -> None:
    owner = chain_net.member()
    digest = hashlib.sha256(b"manifest").digest()
    owner.assets.register(digest, "m", ConsentPolicy(("diagnosis",)), "p")

    with pytest.raises(TransactionRefused) as refused:
        owner.assets.register(digest, "m", ConsentPolicy(("diagnosis",)), "p")

    assert "already registered" in refused.value.message


def test_revoke_update_and_consent_answers(chain_net: ChainNet) -> None:
    owner = chain_net.member()
    asset = chain_net.asset(owner, purposes=("diagnosis",))
    assert owner.assets.consent_for(asset, "diagnosis") == "allowed"
    assert owner.assets.consent_for(asset, "marketing") == "purpose not allowed"

    owner.assets.revoke(asset)
    assert owner.assets.consent_for(asset, "diagnosis") == "revoked"
    assert owner.assets.policy(asset).version == 2

    owner.assets.set_policy(asset, ConsentPolicy(("marketing",)), "p2")
    assert owner.assets.consent_for(asset, "marketing") == "allowed"
    assert owner.assets.policy(asset).version == 3


def test_only_the_owner_changes_or_revokes_a_policy(chain_net: ChainNet) -> None:
    owner, stranger = chain_net.member(), chain_net.member()
    asset = chain_net.asset(owner)

    with pytest.raises(TransactionRefused) as revoke:
        stranger.assets.revoke(asset)
    with pytest.raises(TransactionRefused) as update:
        stranger.assets.set_policy(asset, ConsentPolicy(("anything",)), "p")

    assert revoke.value.reason == update.value.reason == "NotAssetOwner"
    assert owner.assets.consent_for(asset, "diagnosis") == "allowed"


def test_transferring_the_token_transfers_control_of_consent(chain_net: ChainNet) -> None:
    owner, heir = chain_net.member(), chain_net.member()
    asset = chain_net.asset(owner)

    owner.assets.transfer(asset, heir.address)
    heir.assets.revoke(asset)

    assert owner.assets.consent_for(asset, "diagnosis") == "revoked"
    with pytest.raises(TransactionRefused):
        owner.assets.set_policy(asset, ConsentPolicy(("diagnosis",)), "p")


def test_registry_holds_did_and_endpoint(chain_net: ChainNet) -> None:
    member = chain_net.member()

    entry = member.registry.member(member.address)

    assert entry.did == f"did:pkh:eip155:{member.chain_id}:{member.address}"
    assert entry.endpoint.startswith("mem://")
    assert member.address in member.registry.members()
