"""Consent receipts: an asset owner's EIP-712 signature that its asset's update was used
in one round of one job. The domain binds the receipt to one chain and one Jobs contract,
the message to one job, round and update, so it cannot be replayed anywhere else. The owner
also signs how many examples the update was trained on (at most the rows its asset's
registration committed to) and the round's privacy loss as its own node's accountant counts
it: the round's epsilon on chain is the largest its receipts carry, never the aggregator's
word alone. A contract wallet's receipt is signed by its key and approved by the wallet
(ERC-1271)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from dain.identity import Identity, recover_typed_data_signer, sign_typed_data

_TYPES = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "Receipt": [
        {"name": "jobId", "type": "uint256"},
        {"name": "round", "type": "uint32"},
        {"name": "assetId", "type": "uint256"},
        {"name": "numExamples", "type": "uint32"},
        {"name": "epsilon", "type": "uint64"},
        {"name": "updateHash", "type": "bytes32"},
    ],
}


@dataclass(frozen=True)
class Receipt:
    job_id: int
    round: int
    asset_id: int
    num_examples: int
    update_hash: bytes
    signature: bytes = b""
    # the round's privacy loss in millionths (round_epsilon_to_chain), 0 when not private
    epsilon: int = field(default=0, kw_only=True)

    def typed_data(self, chain_id: int, jobs_contract: str) -> dict[str, Any]:
        return {
            "types": _TYPES,
            "primaryType": "Receipt",
            "domain": {
                "name": "dain Jobs",
                "version": "1",
                "chainId": chain_id,
                "verifyingContract": jobs_contract,
            },
            "message": {
                "jobId": self.job_id,
                "round": self.round,
                "assetId": self.asset_id,
                "numExamples": self.num_examples,
                "epsilon": self.epsilon,
                "updateHash": self.update_hash,
            },
        }

    def signed_by(self, identity: Identity, chain_id: int, jobs_contract: str) -> Receipt:
        signature = sign_typed_data(identity, self.typed_data(chain_id, jobs_contract))
        return replace(self, signature=signature)

    def signer(self, chain_id: int, jobs_contract: str) -> str:
        return recover_typed_data_signer(self.typed_data(chain_id, jobs_contract), self.signature)

    def as_call_argument(self) -> tuple[int, int, int, bytes, bytes]:
        return (self.asset_id, self.num_examples, self.epsilon, self.update_hash, self.signature)
