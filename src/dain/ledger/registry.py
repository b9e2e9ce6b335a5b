"""Members: admission, their DID, node endpoint, public key and TLS certificate fingerprint,
and credentials."""

from __future__ import annotations

from dataclasses import dataclass

from web3.contract import Contract

from dain.errors import ConfigError
from dain.ledger.caller import ChainCaller

FINGERPRINT_BYTES = 32  # SHA-256


@dataclass(frozen=True)
class Member:
    address: str
    admitted: bool
    did: str
    endpoint: str
    public_key: bytes
    # SHA-256 of the DER certificate its node serves HTTPS with; b"" if it published none
    tls_fingerprint: bytes = b""


class RegistryClient:
    def __init__(self, contract: Contract, caller: ChainCaller) -> None:
        self._c = contract
        self._call = caller

    @property
    def address(self) -> str:
        return str(self._c.address)

    def register(
        self, endpoint: str, public_key: bytes = b"", tls_fingerprint: bytes = b""
    ) -> None:
        """Publishes this member's node endpoint, public key and the SHA-256 of its node's
        TLS certificate (b"" for none: an in-process or plain-HTTP node). Its DID is the
        registry's to derive from this identity's address and the chain. Members are
        admitted and removed by vote only (GovernanceClient.propose_admission)."""
        if len(tls_fingerprint) not in (0, FINGERPRINT_BYTES):
            raise ConfigError(
                f"A TLS certificate fingerprint is {FINGERPRINT_BYTES} bytes (SHA-256), "
                f"not {len(tls_fingerprint)}."
            )
        self._call.send(
            "publish the member profile",
            self._c.functions.register(
                endpoint, public_key, tls_fingerprint or bytes(FINGERPRINT_BYTES)
            ),
        )

    def attest(self, subject: str, expiry: int) -> None:
        """Attests, as issuer, a credential about `subject` until `expiry` (0 revokes)."""
        self._call.send("attest a credential", self._c.functions.attest(subject, expiry))

    def has_credential(self, issuer: str, subject: str) -> bool:
        return bool(
            self._call.read("a credential", self._c.functions.hasCredential(issuer, subject))
        )

    def is_member(self, address: str) -> bool:
        return bool(self._call.read("a membership", self._c.functions.isMember(address)))

    def member(self, address: str) -> Member:
        admitted, _joined, did, endpoint, public_key, fingerprint = self._call.read(
            "a member's profile", self._c.functions.member(address)
        )
        published = bytes(fingerprint) if any(fingerprint) else b""  # zero: none published
        return Member(address, bool(admitted), did, endpoint, bytes(public_key), published)

    def members(self) -> list[str]:
        return list(self._call.read("the member list", self._c.functions.members()))
