"""Node errors.

    NodeError
    ├── EnvelopeError     a message is malformed, badly signed, stale or replayed
    │   └── TooManyMessages   its sender sent more than a node takes in a while
    ├── ProtocolError     a message breaks the round protocol (wrong round, not enrolled)
    ├── StageOpen         what was asked for does not exist yet: a stage is still open
    ├── BodyTooLarge      a request body is over the node's limit
    ├── Forbidden         the sender has no role that lets it read or store that blob
    ├── QuotaExceeded     the sender's blobs here would pass its storage quota
    └── PeerError         talking to another node failed
        ├── PeerUnavailable   it did not answer, or failed on its side: try again later
        ├── PeerNotReady      it answered "not yet" (a stage still open): ask again later
        ├── PeerConflict      its view of the round differs from ours (it is not collecting
        │                     that round, or not elected): may pass as the chain moves on
        └── PeerRefused       it refused the message itself: sending it again cannot help

Which HTTP status each error is answered with lives in one table, `dain.node.routes`; the
client side turns statuses back into these classes in one place, `dain.node.peers`.
"""

from __future__ import annotations

from dain.errors import DainError


class NodeError(DainError):
    pass


class EnvelopeError(NodeError):
    pass


class ProtocolError(NodeError):
    pass


class StageOpen(NodeError):
    pass


class BodyTooLarge(NodeError):
    pass


class Forbidden(NodeError):
    pass


class QuotaExceeded(NodeError):
    pass


class TooManyMessages(EnvelopeError):
    pass


class PeerError(NodeError):
    def __init__(self, message: str, *, peer_status: int | None = None) -> None:
        super().__init__(message)
        self.peer_status = peer_status  # the peer's HTTP status; None if it did not answer


class PeerUnavailable(PeerError):
    pass


class PeerNotReady(PeerError):
    pass


class PeerConflict(PeerError):
    pass


class PeerRefused(PeerError):
    pass
