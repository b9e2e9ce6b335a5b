"""What one party of a job shares with each other party: an X25519 secret from their
long-term agreement keys, which the owners published on chain when they enrolled. It is
computed once per pair and kept for all of the job's rounds, and keys two things:

- the channels that carry a round's key shares (AES-GCM, key bound to the round);
- the vouchers of the consistency check: a party vouches to each other survivor for the
  view of the round it signed with a MAC only the two of them can make. The aggregator
  relays vouchers but cannot forge one, so a client that counts a quorum of valid vouchers
  for its own digest knows that many parties signed that very digest. Unlike a signature a
  voucher convinces only its recipient, which is all the quorum argument needs (see
  `setup`), and checking one costs a microsecond instead of an ECDSA recovery."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from dain.learning.errors import SecAggError
from dain.learning.secagg.masking import derive, public_bytes

VOUCHER_BYTES = 16


class PairSecrets:
    """One party's secrets with the others of a job. Keep one per job and asset: the
    agreement keys do not change during a job, so neither do these."""

    def __init__(self, agreement_key: X25519PrivateKey) -> None:
        self.agreement_key = agreement_key
        self.public_key = public_bytes(agreement_key)
        self._shared: dict[bytes, bytes] = {}  # their public key -> X25519 secret
        self._voucher_keys: dict[bytes, bytes] = {}

    def shared(self, their_key: bytes) -> bytes:
        found = self._shared.get(their_key)
        if found is None:
            try:
                found = self.agreement_key.exchange(X25519PublicKey.from_public_bytes(their_key))
            except ValueError as exc:  # a low-order point: no secret to share
                raise SecAggError(f"An agreement key on chain is unusable ({exc}).") from exc
            self._shared[their_key] = found
        return found

    def voucher(self, their_key: bytes, sender: int, digest: bytes) -> bytes:
        """The MAC by which `sender` vouches for `digest` to the holder of `their_key`.
        The sender is in the MAC: the key is the same both ways, and a voucher reflected
        back to its maker must not pass for the other's."""
        key = self._voucher_keys.get(their_key)
        if key is None:
            key = derive(self.shared(their_key), b"dain secagg vouchers", "pair voucher key")
            self._voucher_keys[their_key] = key
        message = sender.to_bytes(32, "big") + digest
        return hmac.new(key, message, hashlib.sha256).digest()[:VOUCHER_BYTES]
