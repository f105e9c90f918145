"""Authenticated key exchange that opens every peer link.

Each side sends a hello ``[version, chain_id, ephemeral X25519 key, static Ed25519 key]``, then an
auth frame: its Ed25519 signature over ``[role, transcript]``. The transcript is the version, the
chain id, both ephemeral keys and both static keys, initiator's first. Binding the static keys
(not only the ephemeral ones) stops an allowed validator from relaying someone else's handshake
under its own name; binding the role stops a signature from being reflected back. Session keys
are BLAKE2b of the transcript keyed with the X25519 secret, personalised per direction.

:class:`Handshake` is the sans-IO state machine; :func:`handshake` runs it over a trio stream.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import msgpack
import trio
from nacl.bindings import crypto_scalarmult
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey as EphemeralKey

from ..crypto import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, PrivateKey, verify
from .errors import HandshakeError, NetError
from .framing import FrameReader, send_frame
from .link import DEFAULT_MAX_FRAME_BYTES, SecureLink
from .seal import KEY_BYTES, SessionKeys

PROTOCOL_VERSION = 1
MAX_HANDSHAKE_FRAME_BYTES = 1024  # small: nothing is buffered for a peer before it is authenticated
SIGN_KIND = "handshake"
INITIATOR, RESPONDER = "initiator", "responder"
# BLAKE2b personalisation of the key for frames sent by each role.
_PERSONAL = {INITIATOR: b"seqnet/v1/i2r", RESPONDER: b"seqnet/v1/r2i"}

Allowed = Callable[[bytes], bool] | Collection[bytes]


class Handshake:
    """One side of a handshake, without I/O: ``hello()``, ``receive_hello()``, ``receive_auth()``.

    Every refusal is a :class:`HandshakeError`; calling the steps out of order is a RuntimeError.
    """

    def __init__(
        self, key: PrivateKey, chain_id: str, allowed: Allowed, *, initiator: bool
    ) -> None:
        self._key = key
        self._chain_id = chain_id
        self._is_allowed = allowed if callable(allowed) else allowed.__contains__
        self._role = INITIATOR if initiator else RESPONDER
        self._ephemeral = EphemeralKey.generate()
        self._hello = msgpack.packb(
            [PROTOCOL_VERSION, chain_id, bytes(self._ephemeral.public_key), key.public_key],
            use_bin_type=True,
        )
        if len(self._hello) > MAX_HANDSHAKE_FRAME_BYTES:
            raise ValueError("chain id too long for a hello frame")
        self._agreed: _Agreed | None = None

    @property
    def peer_key(self) -> bytes:
        """The peer's validator key: claimed after ``receive_hello``, proven by ``receive_auth``."""
        if self._agreed is None:
            raise RuntimeError("receive_hello must come first")
        return self._agreed.peer_key

    def hello(self) -> bytes:
        """Our hello payload (send it first)."""
        return self._hello

    def receive_hello(self, payload: bytes) -> bytes:
        """Check the peer's hello; return our auth payload to send next."""
        if self._agreed is not None:
            raise RuntimeError("hello already received")
        peer_ephemeral, peer_key = self._parse_hello(payload)
        ours = [bytes(self._ephemeral.public_key), self._key.public_key]
        theirs = [peer_ephemeral, peer_key]
        first, second = (ours, theirs) if self._role == INITIATOR else (theirs, ours)
        try:
            shared = crypto_scalarmult(bytes(self._ephemeral), peer_ephemeral)
        except CryptoError:  # libsodium refuses low-order points (all-zero shared secret)
            raise HandshakeError("peer ephemeral key is a low-order point") from None
        transcript = msgpack.packb(
            [PROTOCOL_VERSION, self._chain_id, first[0], second[0], first[1], second[1]],
            use_bin_type=True,
        )
        self._agreed = _Agreed(transcript, shared, peer_key)
        return self._key.sign(self._chain_id, SIGN_KIND, self._agreed.signed(self._role))

    def receive_auth(self, payload: bytes) -> SessionKeys:
        """Check the peer's signature; return the session keys."""
        agreed = self._agreed
        if agreed is None:
            raise RuntimeError("receive_hello must come first")
        peer_role = RESPONDER if self._role == INITIATOR else INITIATOR
        if len(payload) != SIGNATURE_SIZE:
            raise HandshakeError(f"malformed auth: expected a {SIGNATURE_SIZE}-byte signature")
        if not verify(
            agreed.peer_key, self._chain_id, SIGN_KIND, agreed.signed(peer_role), payload
        ):
            raise HandshakeError("peer's handshake signature does not verify")
        return SessionKeys(send=agreed.derive(self._role), receive=agreed.derive(peer_role))

    def _parse_hello(self, payload: bytes) -> tuple[bytes, bytes]:
        fields = _unpack(payload)
        if type(fields) is not list or not fields or type(fields[0]) is not int:
            raise HandshakeError("malformed hello: expected [version, ...]")
        if fields[0] != PROTOCOL_VERSION:
            raise HandshakeError(f"peer speaks version {fields[0]}, we speak {PROTOCOL_VERSION}")
        if len(fields) != 4:
            raise HandshakeError(f"malformed hello: {len(fields)} fields instead of 4")
        _, chain_id, ephemeral, static = fields
        if type(chain_id) is not str:
            raise HandshakeError("malformed hello: chain id is not a string")
        for name, value in (("ephemeral", ephemeral), ("static", static)):
            if type(value) is not bytes or len(value) != PUBLIC_KEY_SIZE:
                raise HandshakeError(f"malformed hello: {name} key is not {PUBLIC_KEY_SIZE} bytes")
        if chain_id != self._chain_id:
            theirs, ours = chain_id[:64], self._chain_id
            raise HandshakeError(f"peer is on chain {theirs!r}, we are on {ours!r}")
        if static == self._key.public_key:
            raise HandshakeError("peer claims our own validator key")
        if not self._is_allowed(static):
            raise HandshakeError(f"peer key {static.hex()[:16]}... is not an allowed validator")
        return ephemeral, static


@dataclass(frozen=True, slots=True)
class _Agreed:
    """What both sides hold once hellos are exchanged (the secret is kept out of ``repr``)."""

    transcript: bytes
    shared: bytes = field(repr=False)
    peer_key: bytes

    def signed(self, role: str) -> bytes:
        """The payload the side playing ``role`` signs."""
        return msgpack.packb([role, self.transcript], use_bin_type=True)

    def derive(self, sender_role: str) -> bytes:
        """The key sealing frames sent by ``sender_role``."""
        person = _PERSONAL[sender_role]
        return hashlib.blake2b(
            self.transcript, key=self.shared, person=person, digest_size=KEY_BYTES
        ).digest()


def _unpack(payload: bytes) -> Any:
    try:
        return msgpack.unpackb(
            payload,
            raw=False,
            max_array_len=16,
            max_map_len=0,
            max_ext_len=0,
            max_bin_len=MAX_HANDSHAKE_FRAME_BYTES,
            max_str_len=MAX_HANDSHAKE_FRAME_BYTES,
        )
    except Exception as exc:  # msgpack raises a zoo of types for bad input
        raise HandshakeError(f"malformed hello: not msgpack ({type(exc).__name__})") from None


async def handshake(
    stream: trio.abc.Stream,
    key: PrivateKey,
    chain_id: str,
    allowed: Allowed,
    initiator: bool,
    *,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
) -> SecureLink:
    """Run the handshake on ``stream`` and return the sealed link to the authenticated peer.

    The stream belongs to this call: on success to the returned link, on any failure (including
    the caller's timeout cancelling it) it is closed. Refusals raise :class:`HandshakeError`.
    """
    state = Handshake(key, chain_id, allowed, initiator=initiator)
    reader = FrameReader(stream, MAX_HANDSHAKE_FRAME_BYTES)
    try:
        await send_frame(stream, state.hello())
        await send_frame(stream, state.receive_hello(await reader.receive()))
        keys = state.receive_auth(await reader.receive())
    except BaseException as exc:
        await trio.aclose_forcefully(stream)
        if isinstance(exc, NetError) and not isinstance(exc, HandshakeError):
            raise HandshakeError(f"handshake failed: {exc}") from exc
        raise
    return SecureLink(stream, keys, state.peer_key, max_frame_bytes=max_frame_bytes, reader=reader)
