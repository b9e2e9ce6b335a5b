"""Data assets: asset tokens, their consent policies, and the consent check."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from eth_utils import to_checksum_address
from web3.contract import Contract

from dain.data import (
    AssetManifest,
    ConsentPolicy,
    PolicyError,
    bytes32_to_purpose,
    purpose_to_bytes32,
)
from dain.identity import did_pkh, parse_did
from dain.ledger.caller import ChainCaller
from dain.ledger.events import AssetTransferred, ConsentRevoked, PolicySet

EPSILON_SCALE = 1_000_000  # epsilon travels on chain in millionths
NO_EPSILON_LIMIT = 2**64 - 1
ZERO_ADDRESS = "0x" + "00" * 20


class Consent(StrEnum):
    """Whether an asset's policy allows a use, or why not: DataAssets' Consent enum, in its
    order. The values are plain words, so `Consent.ALLOWED == "allowed"`."""

    ALLOWED = "allowed"
    REVOKED = "revoked"
    EXPIRED = "expired"
    PURPOSE_NOT_ALLOWED = "purpose not allowed"
    REQUESTER_NOT_ALLOWED = "requester not allowed"
    SECURE_AGGREGATION_REQUIRED = "secure aggregation required"
    PRIVACY_BUDGET_TOO_HIGH = "privacy budget too high"
    UNKNOWN_ASSET = "unknown asset"

    @classmethod
    def from_chain(cls, code: int) -> Consent:
        return list(cls)[code]


def epsilon_to_chain(epsilon: float | None) -> int:
    return NO_EPSILON_LIMIT if epsilon is None else max(1, round(epsilon * EPSILON_SCALE))


def epsilon_from_chain(raw: int) -> float | None:
    return None if raw == NO_EPSILON_LIMIT else raw / EPSILON_SCALE


@dataclass(frozen=True)
class OnChainPolicy:
    asset_id: int
    owner: str
    version: int
    revoked: bool
    policy: ConsentPolicy  # the terms as the chain holds them (no statement)
    policy_cid: str


def _address_on(chain_id: int, did: str, role: str) -> str:
    """The address of a DID the policy names, which must be on this chain: the contract
    keeps addresses only, and an address on another chain may be someone else here."""
    named_chain, address = parse_did(did)
    if named_chain != chain_id:
        raise PolicyError(
            f"The policy names {role} {did} on chain {named_chain}, but this network is "
            f"chain {chain_id}.",
            hint=f"Name them by their identity on this network: did:pkh:eip155:{chain_id}:"
            f"{address}, if that is who you mean.",
        )
    return address


def policy_to_chain(policy: ConsentPolicy, policy_cid: str, chain_id: int) -> tuple[Any, ...]:
    """The PolicyInput struct DataAssets takes; every DID it names must be on `chain_id`."""
    issuer = policy.credential_issuer
    return (
        [purpose_to_bytes32(p) for p in policy.purposes],
        [_address_on(chain_id, d, "the requester") for d in policy.allowed_requesters],
        _address_on(chain_id, issuer, "the credential issuer") if issuer else ZERO_ADDRESS,
        policy.expiry,
        policy.price_per_round,
        policy.min_participants,
        epsilon_to_chain(policy.max_epsilon),
        policy.secure_aggregation,
        policy_cid,
    )


class AssetsClient:
    def __init__(self, contract: Contract, caller: ChainCaller) -> None:
        self._c = contract
        self._call = caller

    @property
    def address(self) -> str:
        return str(self._c.address)

    def register(
        self, manifest: AssetManifest, manifest_cid: str, policy: ConsentPolicy, policy_cid: str
    ) -> int:
        """Mints the asset token to this identity; its id is the manifest digest, and the
        chain keeps the manifest's row count: no receipt may claim more examples."""
        self._call.send(
            "register the data asset",
            self._c.functions.register(
                manifest.digest,
                manifest_cid,
                manifest.num_rows,
                policy_to_chain(policy, policy_cid, self._call.chain_id),
            ),
        )
        return int.from_bytes(manifest.digest, "big")

    def rows(self, asset_id: int) -> int:
        """The rows the asset's registration committed to: the most examples a receipt for
        it may claim (0 for an unknown asset)."""
        return int(self._call.read("the asset's row count", self._c.functions.rows(asset_id)))

    def set_policy(self, asset_id: int, policy: ConsentPolicy, policy_cid: str) -> int:
        """Replaces the terms (and re-grants consent); returns the new policy version."""
        self._call.send(
            "update the consent policy",
            self._c.functions.setPolicy(
                asset_id, policy_to_chain(policy, policy_cid, self._call.chain_id)
            ),
        )
        return self.policy(asset_id).version

    def revoke(self, asset_id: int) -> int:
        """Revokes consent; returns the block from which it applies."""
        return self._call.send("revoke consent", self._c.functions.revoke(asset_id)).block_number

    def policy(self, asset_id: int) -> OnChainPolicy:
        owner = self.owner_of(asset_id)  # refuses an unknown asset with a clear message
        terms, price, issuer, purposes, requesters, cid = self._call.read(
            "the asset's consent policy", self._c.functions.policy(asset_id)
        )
        expiry, revoked, version, min_participants, secure, max_epsilon = terms
        chain_id = self._call.chain_id
        policy = ConsentPolicy(
            purposes=tuple(bytes32_to_purpose(p) for p in purposes),
            expiry=int(expiry),
            price_per_round=int(price),
            allowed_requesters=tuple(did_pkh(chain_id, a) for a in requesters),
            credential_issuer=did_pkh(chain_id, issuer) if int(issuer, 16) else None,
            min_participants=int(min_participants),
            max_epsilon=epsilon_from_chain(int(max_epsilon)),
            secure_aggregation=bool(secure),
        )
        return OnChainPolicy(asset_id, owner, int(version), bool(revoked), policy, cid)

    def consent_for(
        self,
        asset_id: int,
        purpose: str,
        requester: str | None = None,
        *,
        secure_aggregation: bool = False,
        epsilon: float | None = None,
    ) -> Consent:
        """Consent.ALLOWED, or why not, e.g. Consent.REVOKED, Consent.EXPIRED."""
        answer = self._call.read(
            "the asset's consent",
            self._c.functions.consentFor(
                asset_id,
                purpose_to_bytes32(purpose),
                requester or ZERO_ADDRESS,
                secure_aggregation,
                epsilon_to_chain(epsilon),
            ),
        )
        return Consent.from_chain(answer)

    def manifest_cid(self, asset_id: int) -> str:
        """The content id of the asset's manifest, as its registration named it."""
        return str(self._call.read("the asset's manifest id",
                                   self._c.functions.manifestCid(asset_id)))  # fmt: skip

    def metadata(self, asset_id: int) -> dict[str, Any]:
        """The asset token's ERC-721 metadata, what wallets show: name, description and
        attributes (consent live, revoked or expired; policy version and content id;
        manifest content id; rows; terms), decoded from the `data:` URI of its tokenURI."""
        uri = str(self._call.read("the asset's metadata", self._c.functions.tokenURI(asset_id)))
        _, _, encoded = uri.partition(";base64,")
        return dict(json.loads(base64.b64decode(encoded).decode()))

    def owner_of(self, asset_id: int) -> str:
        return str(self._call.read("the asset's owner", self._c.functions.ownerOf(asset_id)))

    def owners(self, asset_ids: list[int]) -> list[str]:
        """The owner of each of `asset_ids` in one call (the contract's `liveWords`, which a
        round record reads too); the zero address for an asset nobody registered."""
        if not asset_ids:
            return []
        words = self._call.read("the assets' owners", self._c.functions.liveWords(asset_ids))
        return [to_checksum_address((int(w) & (2**160 - 1)).to_bytes(20, "big")) for w in words]

    def transfer(self, asset_id: int, to: str) -> None:
        self._call.send(
            "transfer the data asset",
            self._c.functions.safeTransferFrom(self._call.address, to, asset_id),
        )

    def policy_history(self, asset_id: int) -> list[PolicySet]:
        """Every version of the asset's policy, oldest first."""
        return self._call.events(
            "the asset's policy history", self._c, PolicySet, {"assetId": asset_id}
        )

    def policies_set(self) -> list[PolicySet]:
        """Every policy set on any asset, oldest first: the assets anyone may find."""
        return self._call.events("the consent policies", self._c, PolicySet)

    def revocations(self, asset_id: int) -> list[ConsentRevoked]:
        return self._call.events(
            "the asset's revocations", self._c, ConsentRevoked, {"assetId": asset_id}
        )

    def transfers_to(self, address: str) -> list[AssetTransferred]:
        """Asset tokens minted or transferred to `address`, oldest first."""
        return self._call.events("asset transfers", self._c, AssetTransferred, {"to": address})

    def holder_at(self, asset_id: int, block: int) -> str:
        """Who held the asset token at the end of `block` (the zero address before it was
        minted), from its Transfer events: the holder of a past round, which `owner_of`
        cannot say once the token has moved on (and a node's chain keeps few past states)."""
        moves = self._call.events("the asset's transfers", self._c, AssetTransferred,
                                  {"tokenId": asset_id}, to_block=block)  # fmt: skip
        return moves[-1].recipient if moves else ZERO_ADDRESS
