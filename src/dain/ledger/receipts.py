"""Consent receipts: an asset owner's EIP-712 signature that its asset's update was used
in one round of one job. The domain binds the receipt to one chain and one Jobs contract,
the message to one job, round and update, so it cannot be replayed anywhere else."""

from __future__ import annotations

from dataclasses import dataclass
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
                "updateHash": self.update_hash,
            },
        }

    def signed_by(self, identity: Identity, chain_id: int, jobs_contract: str) -> Receipt:
        signature = sign_typed_data(identity, self.typed_data(chain_id, jobs_contract))
        return Receipt(
            self.job_id, self.round, self.asset_id, self.num_examples, self.update_hash, signature
        )

    def signer(self, chain_id: int, jobs_contract: str) -> str:
        return recover_typed_data_signer(self.typed_data(chain_id, jobs_contract), self.signature)

    def as_call_argument(self) -> tuple[int, int, bytes, bytes]:
        return (self.asset_id, self.num_examples, self.update_hash, self.signature)
