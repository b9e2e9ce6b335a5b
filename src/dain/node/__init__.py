"""The node service: serving peers, the round protocol, signed envelopes, transports,
its home folder, state database, job runner and HTTP API.

Names load on first use, so a command that reads a node's settings doesn't import PyTorch.
"""

from dain.lazy import lazy_exports

_EXPORTS = {
    "Envelope": "dain.node.envelope",
    "ReplayGuard": "dain.node.envelope",
    "seal": "dain.node.envelope",
    "EnvelopeError": "dain.node.errors",
    "NodeError": "dain.node.errors",
    "PeerError": "dain.node.errors",
    "ProtocolError": "dain.node.errors",
    "LocalAsset": "dain.node.node",
    "Node": "dain.node.node",
    "RoundState": "dain.node.rounds",
    "TrainedUpdate": "dain.node.rounds",
    "JobSpec": "dain.node.spec",
    "Carried": "dain.node.transport",
    "InMemoryTransport": "dain.node.transport",
    "Request": "dain.node.transport",
    "Response": "dain.node.transport",
    "Transport": "dain.node.transport",
    "NodeConfig": "dain.node.home",
    "NodeHome": "dain.node.home",
    "NetworkHome": "dain.node.network_home",
    "NodeState": "dain.node.state",
    "JobRunner": "dain.node.runner",
    "HttpTransport": "dain.node.http",
    "create_app": "dain.node.http",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports("dain.node", _EXPORTS)
