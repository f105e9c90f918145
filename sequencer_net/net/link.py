"""A sealed, ordered, authenticated byte-message link to one validator over a trio stream.

Once the handshake has produced :class:`SessionKeys`, a :class:`SecureLink` moves opaque payloads;
it knows nothing about consensus. Any failure caused by the peer (bad framing, a frame that does
not open, the transport ending) closes the link and raises :class:`LinkError`, and every later call
raises :class:`LinkClosed`: a link that lost one frame can never be trusted again.
"""

from __future__ import annotations

import trio

from ..codec import MAX_MESSAGE_BYTES
from .errors import ConnectionLost, LinkClosed, LinkError, NetError
from .framing import FrameReader, send_frame
from .seal import MAC_BYTES, Opener, Sealer, SessionKeys

DEFAULT_MAX_FRAME_BYTES = MAX_MESSAGE_BYTES + MAC_BYTES


class SecureLink(trio.abc.AsyncResource):
    """Sends and receives sealed frames; safe to ``send`` from several tasks, receive from one."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        keys: SessionKeys,
        peer_key: bytes,
        *,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        reader: FrameReader | None = None,
    ) -> None:
        """``reader`` carries bytes the handshake already buffered; its limit is set to ours."""
        if max_frame_bytes <= MAC_BYTES:
            raise ValueError(f"max_frame_bytes must exceed the {MAC_BYTES}-byte MAC")
        self.peer_key = peer_key
        self.max_frame_bytes = max_frame_bytes
        self._stream = stream
        self._reader = reader if reader is not None else FrameReader(stream, max_frame_bytes)
        self._reader.decoder.max_frame_bytes = max_frame_bytes
        self._sealer = Sealer(keys.send)
        self._opener = Opener(keys.receive)
        self._send_lock = trio.StrictFIFOLock()  # one frame at a time, counter order = wire order
        self._closed_because: str | None = None

    @property
    def max_payload_bytes(self) -> int:
        """The largest payload :meth:`send` accepts (the frame limit minus the MAC)."""
        return self.max_frame_bytes - MAC_BYTES

    @property
    def closed(self) -> bool:
        return self._closed_because is not None

    async def send(self, payload: bytes) -> None:
        """Seal and send one payload.

        Raises ValueError (link unharmed) for a payload over :attr:`max_payload_bytes`, and
        LinkClosed if the link is or becomes closed. Cancelling a send closes the link, since the
        peer may have received part of the frame.
        """
        if len(payload) > self.max_payload_bytes:
            raise ValueError(f"payload of {len(payload)} bytes exceeds {self.max_payload_bytes}")
        async with self._send_lock:
            self._check_open()
            sent = False
            try:
                await send_frame(self._stream, self._sealer.seal(payload))
                sent = True
            except NetError as exc:
                await self._shut(str(exc))
                raise LinkClosed(str(exc)) from exc
            finally:
                if not sent and not self.closed:  # cancelled (or worse) mid-write
                    await self._shut("a send was interrupted")

    async def receive(self) -> bytes:
        """The next payload from the peer. Cancel-safe: a cancelled receive loses nothing."""
        self._check_open()
        try:
            return self._opener.open(await self._reader.receive())
        except NetError as exc:
            await self._shut(str(exc))
            if isinstance(exc, LinkError):
                raise
            error = LinkClosed if isinstance(exc, ConnectionLost) else LinkError
            raise error(str(exc)) from exc

    async def aclose(self) -> None:
        """Close the link and its stream (idempotent)."""
        if not self.closed:
            self._closed_because = "closed locally"
        await self._stream.aclose()

    def _check_open(self) -> None:
        if self._closed_because is not None:
            raise LinkClosed(f"link is closed: {self._closed_because}")

    async def _shut(self, reason: str) -> None:
        self._closed_because = reason
        await trio.aclose_forcefully(self._stream)
