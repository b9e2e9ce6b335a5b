"""Members and data assets: the registry, credentials, asset tokens and consent policies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dain.data import ConsentPolicy, bytes32_to_purpose, purpose_to_bytes32
from dain.identity import did_pkh, parse_did

if TYPE_CHECKING:
    from dain.ledger.client import Ledger

CONSENT = (
    "allowed",
    "revoked",
    "expired",
    "purpose not allowed",
    "requester not allowed",
    "secure aggregation required",
    "privacy budget too high",
    "unknown asset",
)
EPSILON_SCALE = 1_000_000  # epsilon travels on chain in millionths
NO_EPSILON_LIMIT = 2**64 - 1
ZERO_ADDRESS = "0x" + "00" * 20


def epsilon_to_chain(epsilon: float | None) -> int:
    return NO_EPSILON_LIMIT if epsilon is None else max(1, round(epsilon * EPSILON_SCALE))


def epsilon_from_chain(raw: int) -> float | None:
    return None if raw == NO_EPSILON_LIMIT else raw / EPSILON_SCALE


@dataclass(frozen=True)
class Member:
    address: str
    admitted: bool
    did: str
    endpoint: str
    public_key: bytes


@dataclass(frozen=True)
class OnChainPolicy:
    asset_id: int
    owner: str
    version: int
    revoked: bool
    policy: ConsentPolicy  # the terms as the chain holds them (no statement)
    policy_cid: str


class RegistryClient:
    def __init__(self, ledger: Ledger) -> None:
        self._l = ledger
        self._c = ledger.contracts.registry

    @property
    def address(self) -> str:
        return str(self._c.address)

    def admit(self, account: str) -> None:
        """Only holders of the admitter role: the deployer at genesis, then governance."""
        self._l.sender.send("admit member", self._c.functions.admit(account))

    def remove(self, account: str) -> None:
        self._l.sender.send("remove member", self._c.functions.remove(account))

    def register(self, endpoint: str, public_key: bytes = b"") -> None:
        """Publishes this member's DID, node endpoint and public key."""
        self._l.sender.send(
            "publish member profile", self._c.functions.register(self._l.did, endpoint, public_key)
        )

    def attest(self, subject: str, expiry: int) -> None:
        """Attests, as issuer, a credential about `subject` until `expiry` (0 revokes)."""
        self._l.sender.send("attest credential", self._c.functions.attest(subject, expiry))

    def has_credential(self, issuer: str, subject: str) -> bool:
        return bool(self._c.functions.hasCredential(issuer, subject).call())

    def is_member(self, address: str) -> bool:
        return bool(self._c.functions.isMember(address).call())

    def member(self, address: str) -> Member:
        admitted, _joined, did, endpoint, public_key = self._c.functions.member(address).call()
        return Member(address, bool(admitted), did, endpoint, bytes(public_key))

    def members(self) -> list[str]:
        return list(self._c.functions.members().call())


def policy_to_chain(policy: ConsentPolicy, policy_cid: str) -> tuple[Any, ...]:
    """The PolicyInput struct DataAssets takes."""
    return (
        [purpose_to_bytes32(p) for p in policy.purposes],
        [parse_did(d)[1] for d in policy.allowed_requesters],
        parse_did(policy.credential_issuer)[1] if policy.credential_issuer else ZERO_ADDRESS,
        policy.expiry,
        policy.price_per_round,
        policy.min_participants,
        epsilon_to_chain(policy.max_epsilon),
        policy.secure_aggregation,
        policy_cid,
    )


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
                manifest_digest, manifest_cid, policy_to_chain(policy, policy_cid)
            ),
        )
        return int.from_bytes(manifest_digest, "big")

    def set_policy(self, asset_id: int, policy: ConsentPolicy, policy_cid: str) -> int:
        """Replaces the terms (and re-grants consent); returns the new policy version."""
        self._l.sender.send(
            "update consent policy",
            self._c.functions.setPolicy(asset_id, policy_to_chain(policy, policy_cid)),
        )
        return self.policy(asset_id).version

    def revoke(self, asset_id: int) -> int:
        """Revokes consent; returns the block from which it applies."""
        return self._l.sender.send(
            "revoke consent", self._c.functions.revoke(asset_id)
        ).block_number

    def policy(self, asset_id: int) -> OnChainPolicy:
        owner = self.owner_of(asset_id)  # refuses an unknown asset with a clear message
        terms, price, issuer, purposes, requesters, cid = self._c.functions.policy(asset_id).call()
        expiry, revoked, version, min_participants, secure, max_epsilon = terms
        chain_id = self._l.chain_id
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
    ) -> str:
        """'allowed', or why not, e.g. 'revoked', 'expired', 'purpose not allowed'."""
        answer = self._c.functions.consentFor(
            asset_id,
            purpose_to_bytes32(purpose),
            requester or ZERO_ADDRESS,
            secure_aggregation,
            epsilon_to_chain(epsilon),
        ).call()
        return CONSENT[answer]

    def owner_of(self, asset_id: int) -> str:
        return str(self._l.sender.call("look up asset owner", self._c.functions.ownerOf(asset_id)))

    def transfer(self, asset_id: int, to: str) -> None:
        self._l.sender.send(
            "transfer data asset",
            self._c.functions.safeTransferFrom(self._l.address, to, asset_id),
        )
