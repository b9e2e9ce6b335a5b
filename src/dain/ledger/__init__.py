"""The chain: contracts, backends and the typed client every other layer uses.

Names load on first use, so a command that needs one light part does not pay for the rest.
"""

from dain.lazy import lazy_exports as _lazy_exports

_EXPORTS = {
    "AnvilProcess": "dain.ledger.anvil",
    "free_port": "dain.ledger.anvil",
    "stop_pid": "dain.ledger.anvil",
    "Consent": "dain.ledger.assets",
    "OnChainPolicy": "dain.ledger.assets",
    "AssetTrail": "dain.ledger.audit",
    "Auditor": "dain.ledger.audit",
    "JobTrail": "dain.ledger.audit",
    "MemberTrail": "dain.ledger.audit",
    "ChainBackend": "dain.ledger.backend",
    "EmbeddedChain": "dain.ledger.backend",
    "RpcChain": "dain.ledger.backend",
    "ChainCaller": "dain.ledger.caller",
    "Ledger": "dain.ledger.client",
    "Deployment": "dain.ledger.deployment",
    "NetworkParams": "dain.ledger.deployment",
    "TOKEN_UNIT": "dain.ledger.units",
    "deploy": "dain.ledger.deployment",
    "ChainUnavailable": "dain.ledger.errors",
    "DeploymentError": "dain.ledger.errors",
    "LedgerError": "dain.ledger.errors",
    "TransactionRefused": "dain.ledger.errors",
    "AssetEnrolled": "dain.ledger.events",
    "AssetTransferred": "dain.ledger.events",
    "ConsentRevoked": "dain.ledger.events",
    "DataUsed": "dain.ledger.events",
    "JobApproved": "dain.ledger.events",
    "JobCancelled": "dain.ledger.events",
    "JobProposed": "dain.ledger.events",
    "PolicySet": "dain.ledger.events",
    "PoolRefunded": "dain.ledger.events",
    "ReceiptSkipped": "dain.ledger.events",
    "RewardPaid": "dain.ledger.events",
    "RoundAborted": "dain.ledger.events",
    "RoundRecorded": "dain.ledger.events",
    "SkipReason": "dain.ledger.events",
    "Proposal": "dain.ledger.governance",
    "ProposalState": "dain.ledger.governance",
    "Tally": "dain.ledger.governance",
    "Vote": "dain.ledger.governance",
    "format_hash": "dain.ledger.formats",
    "Enrollment": "dain.ledger.jobs",
    "JobInfo": "dain.ledger.jobs",
    "JobStatus": "dain.ledger.jobs",
    "JobTerms": "dain.ledger.jobs",
    "Reputation": "dain.ledger.jobs",
    "RoundInfo": "dain.ledger.jobs",
    "Settlement": "dain.ledger.jobs",
    "round_epsilon_to_chain": "dain.ledger.jobs",
    "Receipt": "dain.ledger.receipts",
    "Member": "dain.ledger.registry",
    "Sent": "dain.ledger.transactions",
    "format_dain": "dain.ledger.units",
    "parse_dain": "dain.ledger.units",
}

__all__ = sorted(_EXPORTS)

__getattr__ = _lazy_exports("dain.ledger", _EXPORTS)
