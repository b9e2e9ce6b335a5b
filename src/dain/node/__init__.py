"""The node service: serving peers, the round protocol, signed envelopes, transports,
its home folder, state database, job runner and HTTP API.

Names load on first use, so a command that reads a node's settings doesn't import PyTorch.
"""

from dain.lazy import lazy_exports as _lazy_exports

_EXPORTS = {
    "Envelope": "dain.node.envelope",
    "ReplayGuard": "dain.node.envelope",
    "seal": "dain.node.envelope",
    "blob_request": "dain.node.envelope",
    "ENVELOPE_HEADER": "dain.node.transport",
    "BodyTooLarge": "dain.node.errors",
    "EnvelopeError": "dain.node.errors",
    "NodeError": "dain.node.errors",
    "PeerConflict": "dain.node.errors",
    "PeerError": "dain.node.errors",
    "PeerNotReady": "dain.node.errors",
    "PeerRefused": "dain.node.errors",
    "PeerUnavailable": "dain.node.errors",
    "ProtocolError": "dain.node.errors",
    "StageOpen": "dain.node.errors",
    "TooManyMessages": "dain.node.errors",
    "LocalAsset": "dain.node.context",
    "NodeContext": "dain.node.context",
    "Node": "dain.node.node",
    "JobSpec": "dain.node.spec",
    "SecAggSettings": "dain.node.spec",
    "Carried": "dain.node.transport",
    "Contact": "dain.node.transport",
    "InMemoryTransport": "dain.node.transport",
    "Request": "dain.node.transport",
    "Response": "dain.node.transport",
    "Transport": "dain.node.transport",
    "NodeConfig": "dain.node.home",
    "NodeHome": "dain.node.home",
    "DEFAULT_HOME": "dain.node.network_home",
    "ChainRecord": "dain.node.network_home",
    "NetworkHome": "dain.node.network_home",
    "running_chain": "dain.node.network_home",
    "MemoryNonces": "dain.node.nonces",
    "NonceLimits": "dain.node.nonces",
    "NonceStore": "dain.node.nonces",
    "NodeState": "dain.node.state",
    "StoredAsset": "dain.node.state",
    "Health": "dain.node.runner",
    "JobRunner": "dain.node.runner",
    "MessageKind": "dain.node.envelope",
    "ROUTES": "dain.node.routes",
    "Dispatcher": "dain.node.routes",
    "MASKED": "dain.node.secure_participant",
    "Stage": "dain.node.secure_participant",
    "agreement_public_key": "dain.node.secure_participant",
    "HttpTransport": "dain.node.http_client",
    "home_client": "dain.node.pinning",
    "pinned_client": "dain.node.pinning",
    "create_app": "dain.node.http",
    "open_node": "dain.node.service",
    "serve": "dain.node.service",
}

__all__ = sorted(_EXPORTS)

__getattr__ = _lazy_exports("dain.node", _EXPORTS)
