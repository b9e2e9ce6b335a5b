"""The node service: serving peers, the round protocol, signed envelopes, transports."""

from dain.node.envelope import Envelope, ReplayGuard, seal
from dain.node.errors import EnvelopeError, NodeError, PeerError, ProtocolError
from dain.node.node import LocalAsset, Node
from dain.node.rounds import RoundState
from dain.node.spec import JobSpec
from dain.node.transport import Carried, InMemoryTransport, Request, Response, Transport

__all__ = [
    "Carried",
    "Envelope",
    "EnvelopeError",
    "InMemoryTransport",
    "JobSpec",
    "LocalAsset",
    "Node",
    "NodeError",
    "PeerError",
    "ProtocolError",
    "ReplayGuard",
    "Request",
    "Response",
    "RoundState",
    "Transport",
    "seal",
]
