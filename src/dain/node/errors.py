"""Node errors.

    NodeError
    ├── EnvelopeError     a message is malformed, badly signed, stale or replayed
    ├── PeerError         a peer cannot be reached or answered with a refusal
    └── ProtocolError     a message breaks the round protocol (wrong round, not enrolled)

Each carries `status`, the HTTP status a node answers with when a peer caused it.
"""

from dain.errors import DainError


class NodeError(DainError):
    status = 400


class EnvelopeError(NodeError):
    status = 401


class PeerError(NodeError):
    status = 502

    def __init__(self, message: str, *, peer_status: int | None = None) -> None:
        super().__init__(message)
        self.peer_status = peer_status  # the peer's HTTP status; None if it did not answer


class ProtocolError(NodeError):
    status = 409
