"""The net layer's error types: every failure caused by a peer or its connection is one of these.

Callers catch :class:`NetError` (or a subclass) and drop the peer; anything else escaping the net
layer is a bug on our side, never a consequence of what a peer sent.
"""

from __future__ import annotations


class NetError(Exception):
    """Base for every error about a peer or the connection to it."""


class FrameError(NetError):
    """The peer broke the framing: zero or oversized length, or a frame cut off by EOF."""


class ConnectionLost(NetError):
    """The transport ended (clean EOF between frames, reset, or closed under us)."""


class HandshakeError(NetError):
    """The peer was refused during the handshake; the message says why."""


class LinkError(NetError):
    """A sealed link failed (tampered, replayed, reordered or dropped frame); it is now closed."""


class LinkClosed(LinkError):
    """The link is closed: the peer hung up, the transport broke, or it was closed earlier."""
