"""The chain: contracts, backends and the typed client every other layer uses."""

from dain.ledger.assets import CONSENT, Member, OnChainPolicy
from dain.ledger.audit import AssetTrail, Auditor, JobTrail, MemberTrail
from dain.ledger.backend import ChainBackend, EmbeddedChain, RpcChain
from dain.ledger.client import Ledger
from dain.ledger.deploy import TOKEN_UNIT, Deployment, NetworkParams, deploy
from dain.ledger.errors import ChainUnavailable, DeploymentError, LedgerError, TransactionRefused
from dain.ledger.governance import Proposal, ProposalState, Tally, Vote
from dain.ledger.jobs import (
    DataUsed,
    Enrollment,
    JobInfo,
    JobStatus,
    JobTerms,
    Reputation,
    RewardPaid,
    RoundInfo,
)
from dain.ledger.receipts import Receipt
from dain.ledger.transactions import Sent

__all__ = [
    "CONSENT",
    "TOKEN_UNIT",
    "AssetTrail",
    "Auditor",
    "ChainBackend",
    "ChainUnavailable",
    "DataUsed",
    "Deployment",
    "DeploymentError",
    "EmbeddedChain",
    "Enrollment",
    "JobInfo",
    "JobStatus",
    "JobTerms",
    "JobTrail",
    "Ledger",
    "LedgerError",
    "Member",
    "MemberTrail",
    "NetworkParams",
    "OnChainPolicy",
    "Proposal",
    "ProposalState",
    "Receipt",
    "Reputation",
    "RewardPaid",
    "RoundInfo",
    "RpcChain",
    "Sent",
    "Tally",
    "TransactionRefused",
    "Vote",
    "deploy",
]
