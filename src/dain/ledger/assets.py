"""Members and data assets: the registry, asset tokens and their consent policies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dain.data import ConsentPolicy, bytes32_to_purpose, purpose_to_bytes32

if TYPE_CHECKING:
    from dain.ledger.client import Ledger

CONSENT = ("allowed", "revoked", "expired", "purpose not allowed", "unknown asset")


@dataclass(frozen=True)
class Member:
    address: str
    did: str
    endpoint: str
    public_key: bytes


@dataclass(frozen=True)
class OnChainPolicy:
    asset_id: int
    purposes: tuple[str, ...]
    expiry: int
    price_per_round: int
    revoked: bool
    version: int
    policy_cid: str


class RegistryClient:
    def __init__(self, ledger: Ledger) -> None:
        self._l = ledger
        self._c = ledger.contracts.registry

    def register(self, endpoint: str, public_key: bytes = b"") -> None:
        self._l.sender.send(
            "register member", self._c.functions.register(self._l.did, endpoint, public_key)
        )

    def is_member(self, address: str) -> bool:
        return bool(self._c.functions.isMember(address).call())

    def member(self, address: str) -> Member:
        did, endpoint, public_key, _joined = self._c.functions.member(address).call()
        return Member(address, did, endpoint, bytes(public_key))

    def members(self) -> list[str]:
        return list(self._c.functions.members().call())


class AssetsClient:
    def __init__(self, ledger: Ledger) -> None:
        self._l = ledger
        self._c = ledger.contracts.assets

    def register(
        self, manifest_digest: bytes, manifest_cid: str, policy: ConsentPolicy, policy_cid: str
    ) -> int:
        """Mints the asset token to this identity; its id is the manifest digest."""
        self._l.sender.send(
            "register data asset",
            self._c.functions.register(
                manifest_digest,
                manifest_cid,
                [purpose_to_bytes32(p) for p in policy.purposes],
                policy.expiry,
                policy.price_per_round,
                policy_cid,
            ),
        )
        return int.from_bytes(manifest_digest, "big")

    def set_policy(self, asset_id: int, policy: ConsentPolicy, policy_cid: str) -> None:
        self._l.sender.send(
            "update consent policy",
            self._c.functions.setPolicy(
                asset_id,
                [purpose_to_bytes32(p) for p in policy.purposes],
                policy.expiry,
                policy.price_per_round,
                policy_cid,
            ),
        )

    def revoke(self, asset_id: int) -> int:
        """Revokes consent; returns the block from which it applies."""
        return self._l.sender.send(
            "revoke consent", self._c.functions.revoke(asset_id)
        ).block_number

    def policy(self, asset_id: int) -> OnChainPolicy:
        purposes, expiry, price, revoked, version, cid = self._c.functions.policy(asset_id).call()
        return OnChainPolicy(
            asset_id,
            tuple(bytes32_to_purpose(p) for p in purposes),
            int(expiry),
            int(price),
            bool(revoked),
            int(version),
            cid,
        )

    def consent_for(self, asset_id: int, purpose: str) -> str:
        """'allowed', or why not: 'revoked', 'expired', 'purpose not allowed', 'unknown asset'."""
        return CONSENT[self._c.functions.consentFor(asset_id, purpose_to_bytes32(purpose)).call()]

    def owner_of(self, asset_id: int) -> str:
        return str(self._c.functions.ownerOf(asset_id).call())

    def transfer(self, asset_id: int, to: str) -> None:
        self._l.sender.send(
            "transfer data asset",
            self._c.functions.safeTransferFrom(self._l.address, to, asset_id),
        )
