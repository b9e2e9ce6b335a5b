"""The chain: contracts, backends and the typed client every other layer uses."""

from dain.ledger.assets import Consent, OnChainPolicy
from dain.ledger.audit import AssetTrail, Auditor, JobTrail, MemberTrail
from dain.ledger.backend import ChainBackend, EmbeddedChain, RpcChain
from dain.ledger.caller import ChainCaller
from dain.ledger.client import Ledger
from dain.ledger.deploy import TOKEN_UNIT, Deployment, NetworkParams, deploy
from dain.ledger.errors import ChainUnavailable, DeploymentError, LedgerError, TransactionRefused
from dain.ledger.events import (
    AssetTransferred,
    ConsentRevoked,
    DataUsed,
    JobCancelled,
    JobProposed,
    PolicySet,
    RewardPaid,
    RoundAborted,
)
from dain.ledger.governance import Proposal, ProposalState, Tally, Vote
from dain.ledger.jobs import Enrollment, JobInfo, JobStatus, JobTerms, Reputation, RoundInfo
from dain.ledger.receipts import Receipt
from dain.ledger.registry import Member
from dain.ledger.transactions import Sent

__all__ = [
    "TOKEN_UNIT",
    "AssetTrail",
    "AssetTransferred",
    "Auditor",
    "ChainBackend",
    "ChainCaller",
    "ChainUnavailable",
    "Consent",
    "ConsentRevoked",
    "DataUsed",
    "Deployment",
    "DeploymentError",
    "EmbeddedChain",
    "Enrollment",
    "JobCancelled",
    "JobInfo",
    "JobProposed",
    "JobStatus",
    "JobTerms",
    "JobTrail",
    "Ledger",
    "LedgerError",
    "Member",
    "MemberTrail",
    "NetworkParams",
    "OnChainPolicy",
    "PolicySet",
    "Proposal",
    "ProposalState",
    "Receipt",
    "Reputation",
    "RewardPaid",
    "RoundAborted",
    "RoundInfo",
    "RpcChain",
    "Sent",
    "Tally",
    "TransactionRefused",
    "Vote",
    "deploy",
]
