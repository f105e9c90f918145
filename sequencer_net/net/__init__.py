"""Authenticated, encrypted peer links between validators: framing, handshake, sealed frames.

The layer moves opaque bytes; what they mean is the node's business. Note that the name
``handshake`` here is the function; import the module's other names from
``sequencer_net.net.handshake`` with ``from ... import``.
"""

from .errors import ConnectionLost, FrameError, HandshakeError, LinkClosed, LinkError, NetError
from .framing import FrameDecoder, FrameReader, encode_frame, send_frame
from .handshake import (
    MAX_HANDSHAKE_FRAME_BYTES,
    PROTOCOL_VERSION,
    Allowed,
    Handshake,
    handshake,
)
from .link import DEFAULT_MAX_FRAME_BYTES, SecureLink
from .seal import Opener, Sealer, SessionKeys

__all__ = [
    "DEFAULT_MAX_FRAME_BYTES",
    "MAX_HANDSHAKE_FRAME_BYTES",
    "PROTOCOL_VERSION",
    "Allowed",
    "ConnectionLost",
    "FrameDecoder",
    "FrameError",
    "FrameReader",
    "Handshake",
    "HandshakeError",
    "LinkClosed",
    "LinkError",
    "NetError",
    "Opener",
    "Sealer",
    "SecureLink",
    "SessionKeys",
    "encode_frame",
    "handshake",
    "send_frame",
]
