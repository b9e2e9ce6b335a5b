"""Data assets and their consent policies on chain, on both backends."""

from __future__ import annotations

import hashlib

import pytest

from dain.data import ConsentPolicy
from dain.errors import ConfigError
from dain.ledger import Consent, TransactionRefused
from tests.conftest import ChainNet, manifest


def test_asset_id_is_the_manifest_digest_and_the_full_policy_is_on_chain(
    chain_net: ChainNet,
) -> None:
    owner, researcher, issuer = chain_net.member(), chain_net.member(), chain_net.member()
    described = manifest(rows=569)
    policy = ConsentPolicy(
        ("diagnosis", "research"),
        expiry=2_000_000_000,
        price_per_round=7,
        allowed_requesters=(researcher.did,),
        credential_issuer=issuer.did,
        min_participants=3,
        max_epsilon=2.5,
        secure_aggregation=True,
    )

    asset = owner.assets.register(described, "bafkreim", policy, "bafkreip")

    assert asset == int.from_bytes(described.digest, "big")
    assert owner.assets.rows(asset) == 569  # the registration commits to the row count
    on_chain = owner.assets.policy(asset)
    assert on_chain.owner == owner.address
    assert (on_chain.revoked, on_chain.version, on_chain.policy_cid) == (False, 1, "bafkreip")
    assert on_chain.policy == policy


def test_same_manifest_cannot_be_registered_twice(chain_net: ChainNet) -> None:
    owner = chain_net.member()
    described = manifest()
    owner.assets.register(described, "m", ConsentPolicy(("diagnosis",)), "p")

    with pytest.raises(TransactionRefused) as refused:
        owner.assets.register(described, "m", ConsentPolicy(("diagnosis",)), "p")

    assert "already registered" in refused.value.message


def test_revoke_update_and_consent_answers(chain_net: ChainNet) -> None:
    owner = chain_net.member()
    asset = chain_net.asset(owner)
    assert owner.assets.consent_for(asset, "diagnosis") is Consent.ALLOWED
    assert owner.assets.consent_for(asset, "marketing") == Consent.PURPOSE_NOT_ALLOWED
    assert owner.assets.consent_for(asset + 1, "diagnosis") == Consent.UNKNOWN_ASSET

    owner.assets.revoke(asset)
    assert owner.assets.consent_for(asset, "diagnosis") == Consent.REVOKED
    assert owner.assets.policy(asset).version == 2

    assert owner.assets.set_policy(asset, ConsentPolicy(("marketing",)), "p2") == 3
    assert owner.assets.consent_for(asset, "marketing") == Consent.ALLOWED
    assert owner.assets.consent_for(asset, "diagnosis") == Consent.PURPOSE_NOT_ALLOWED


def test_requester_rules_list_and_credential(chain_net: ChainNet) -> None:
    owner, listed, credentialed, stranger, issuer = (chain_net.member() for _ in range(5))
    asset = chain_net.asset(owner, allowed_requesters=(listed.did,), credential_issuer=issuer.did)
    assert owner.assets.consent_for(asset, "diagnosis", listed.address) == Consent.ALLOWED
    assert (
        owner.assets.consent_for(asset, "diagnosis", credentialed.address)
        == Consent.REQUESTER_NOT_ALLOWED
    )

    issuer.registry.attest(credentialed.address, chain_net.chain.now() + 3_600)

    assert owner.assets.consent_for(asset, "diagnosis", credentialed.address) == Consent.ALLOWED
    stranger_consent = owner.assets.consent_for(asset, "diagnosis", stranger.address)
    assert stranger_consent == Consent.REQUESTER_NOT_ALLOWED
    chain_net.chain.advance_time(7_200)  # credentials expire too
    assert (
        owner.assets.consent_for(asset, "diagnosis", credentialed.address)
        == Consent.REQUESTER_NOT_ALLOWED
    )


def test_privacy_and_secure_aggregation_terms(chain_net: ChainNet) -> None:
    owner = chain_net.member()
    asset = chain_net.asset(owner, max_epsilon=3.0, secure_aggregation=True)

    def consent(secure: bool, epsilon: float | None) -> Consent:
        return owner.assets.consent_for(
            asset, "diagnosis", secure_aggregation=secure, epsilon=epsilon
        )

    assert consent(True, 3.0) == Consent.ALLOWED
    assert consent(False, 3.0) == Consent.SECURE_AGGREGATION_REQUIRED
    assert consent(True, 3.5) == Consent.PRIVACY_BUDGET_TOO_HIGH
    assert consent(True, None) == Consent.PRIVACY_BUDGET_TOO_HIGH  # a job without a bound


def test_only_the_owner_changes_or_revokes_a_policy(chain_net: ChainNet) -> None:
    owner, stranger = chain_net.member(), chain_net.member()
    asset = chain_net.asset(owner)

    with pytest.raises(TransactionRefused) as revoke:
        stranger.assets.revoke(asset)
    with pytest.raises(TransactionRefused) as update:
        stranger.assets.set_policy(asset, ConsentPolicy(("anything",)), "p")

    assert revoke.value.reason == update.value.reason == "NotAssetOwner"
    assert owner.assets.consent_for(asset, "diagnosis") == Consent.ALLOWED


def test_transferring_the_token_transfers_control_of_consent(chain_net: ChainNet) -> None:
    owner, heir = chain_net.member(), chain_net.member()
    asset = chain_net.asset(owner)

    other = chain_net.asset(owner)
    owner.assets.transfer(asset, heir.address)
    heir.assets.revoke(asset)

    # the batched read nodes use agrees with ownerOf, and names nobody for an unknown id
    assert owner.assets.owners([asset, other, 12345]) == [heir.address, owner.address,
                                                         "0x" + "0" * 40]  # fmt: skip
    assert owner.assets.owners([]) == []

    assert owner.assets.consent_for(asset, "diagnosis") == Consent.REVOKED
    with pytest.raises(TransactionRefused):
        owner.assets.set_policy(asset, ConsentPolicy(("diagnosis",)), "p")


def test_registry_holds_did_and_endpoint(chain_net: ChainNet) -> None:
    member = chain_net.member()

    entry = member.registry.member(member.address)

    assert entry.admitted
    assert entry.did == f"did:pkh:eip155:{member.chain_id}:{member.address}"
    assert entry.endpoint.startswith("mem://")
    assert entry.tls_fingerprint == b""  # an in-process node publishes none
    assert member.address in member.registry.members()


def test_registry_holds_the_tls_certificate_fingerprint(chain_net: ChainNet) -> None:
    member = chain_net.member()
    fingerprint = hashlib.sha256(b"a DER certificate").digest()

    member.registry.register("https://203.0.113.5:8600", b"key", fingerprint)
    entry = member.registry.member(member.address)

    assert (entry.endpoint, entry.public_key) == ("https://203.0.113.5:8600", b"key")
    assert entry.tls_fingerprint == fingerprint


def test_a_fingerprint_of_the_wrong_size_is_refused_before_sending(chain_net: ChainNet) -> None:
    member = chain_net.member()

    with pytest.raises(ConfigError, match="32 bytes"):
        member.registry.register("https://203.0.113.5:8600", b"", b"\1" * 20)


def test_only_admitted_members_publish_profiles_and_only_a_vote_admits(
    chain_net: ChainNet,
) -> None:
    member = chain_net.member()
    newcomer = chain_net.root.as_identity(member.identity.create())
    chain_net.chain.fund(newcomer.address, 10**19)
    registry = member.contracts.registry.functions

    with pytest.raises(TransactionRefused) as profile:
        newcomer.registry.register("mem://newcomer")
    with pytest.raises(TransactionRefused) as admit:
        member.caller.send("admit a member", registry.admit(newcomer.address))

    assert profile.value.reason == "NotAdmitted"
    assert admit.value.reason == "AccessControlUnauthorizedAccount"


def test_consent_answers_are_plain_words_in_the_contract_order() -> None:
    # the values stay the strings callers compared against before the enum
    assert Consent.ALLOWED == "allowed" and str(Consent.REVOKED) == "revoked"
    assert Consent.from_chain(0) is Consent.ALLOWED
    assert Consent.from_chain(7) is Consent.UNKNOWN_ASSET
