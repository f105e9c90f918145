"""Length-prefixed framing: ``u32 big-endian length | payload``.

:class:`FrameDecoder` is sans-IO so it can be tested (and fuzzed) without sockets;
:class:`FrameReader` and :func:`send_frame` are the thin trio layer over it. There are no timeouts
here on purpose: callers bound every wait with their own cancel scope.
"""

from __future__ import annotations

import trio

from .errors import ConnectionLost, FrameError

HEADER_BYTES = 4
MAX_ENCODABLE_BYTES = (1 << 32) - 1
RECEIVE_CHUNK_BYTES = 64 * 1024


def encode_frame(payload: bytes) -> bytes:
    """The frame carrying ``payload``; empty payloads are refused because peers reject them."""
    if not 0 < len(payload) <= MAX_ENCODABLE_BYTES:
        raise ValueError(f"a frame payload is 1..{MAX_ENCODABLE_BYTES} bytes, got {len(payload)}")
    return len(payload).to_bytes(HEADER_BYTES, "big") + payload


class FrameDecoder:
    """Reassembles frames from arbitrarily split or merged chunks of a byte stream.

    The length is checked as soon as the header is complete, so an oversized frame is refused
    before its body is buffered. ``max_frame_bytes`` may be raised later (after a handshake).
    """

    def __init__(self, max_frame_bytes: int) -> None:
        if not 0 < max_frame_bytes <= MAX_ENCODABLE_BYTES:
            raise ValueError(f"max_frame_bytes must be 1..{MAX_ENCODABLE_BYTES}")
        self.max_frame_bytes = max_frame_bytes
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as part of a frame."""
        return len(self._buffer)

    def feed(self, data: bytes | bytearray) -> None:
        """Append received bytes; complete frames are then taken with :meth:`next_frame`."""
        self._buffer += data

    def next_frame(self) -> bytes | None:
        """The next complete payload, or None until more bytes arrive. Raises FrameError."""
        if len(self._buffer) < HEADER_BYTES:
            return None
        length = int.from_bytes(self._buffer[:HEADER_BYTES], "big")
        if length == 0:
            raise FrameError("zero-length frame")
        if length > self.max_frame_bytes:
            raise FrameError(f"frame of {length} bytes exceeds the limit of {self.max_frame_bytes}")
        end = HEADER_BYTES + length
        if len(self._buffer) < end:
            return None
        payload = bytes(self._buffer[HEADER_BYTES:end])
        del self._buffer[:end]
        return payload


class FrameReader:
    """Reads one whole frame at a time from a trio stream.

    Cancel-safe: bytes already received stay in :attr:`decoder`, so a cancelled ``receive`` loses
    nothing, and the same reader can be handed from the handshake to the link without dropping
    frames that arrived early.
    """

    def __init__(self, stream: trio.abc.ReceiveStream, max_frame_bytes: int) -> None:
        self.stream = stream
        self.decoder = FrameDecoder(max_frame_bytes)

    async def receive(self) -> bytes:
        """The next frame's payload. Raises FrameError or ConnectionLost."""
        while (frame := self.decoder.next_frame()) is None:
            try:
                data = await self.stream.receive_some(RECEIVE_CHUNK_BYTES)
            except trio.BrokenResourceError as exc:
                raise ConnectionLost("connection broken") from exc
            except trio.ClosedResourceError as exc:
                raise ConnectionLost("stream was closed locally") from exc
            if not data:
                if self.decoder.buffered:
                    raise FrameError("connection closed in the middle of a frame")
                raise ConnectionLost("peer closed the connection")
            self.decoder.feed(data)
        return frame


async def send_frame(stream: trio.abc.SendStream, payload: bytes) -> None:
    """Write one frame. Raises ConnectionLost if the transport is gone.

    If this is cancelled the peer may have received part of the frame: close the stream.
    """
    frame = encode_frame(payload)
    try:
        await stream.send_all(frame)
    except trio.BrokenResourceError as exc:
        raise ConnectionLost("connection broken") from exc
    except trio.ClosedResourceError as exc:
        raise ConnectionLost("stream was closed locally") from exc
