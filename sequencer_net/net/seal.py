"""Sealing frames with XSalsa20-Poly1305 (``nacl.secret.SecretBox``) and implicit counter nonces.

The nonce of frame n is n itself (8 bytes big-endian, zero padded to 24) and is never sent: both
ends count frames, so a replayed, reordered, dropped or tampered frame simply fails to open. Each
direction has its own key, so the two counters never share a (key, nonce) pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

from .errors import LinkError

KEY_BYTES = SecretBox.KEY_SIZE
MAC_BYTES = SecretBox.MACBYTES
NONCE_BYTES = SecretBox.NONCE_SIZE
COUNTER_BYTES = 8


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """The two directional keys of one session (kept out of ``repr`` so they never reach logs)."""

    send: bytes = field(repr=False)
    receive: bytes = field(repr=False)


def _nonce(counter: int) -> bytes:
    if counter >= 1 << (8 * COUNTER_BYTES):
        raise LinkError("frame counter exhausted; the link must be re-established")
    return bytes(NONCE_BYTES - COUNTER_BYTES) + counter.to_bytes(COUNTER_BYTES, "big")


class Sealer:
    """Seals outgoing payloads in order; frame n uses nonce n."""

    def __init__(self, key: bytes) -> None:
        self._box = SecretBox(key)
        self._counter = 0

    def seal(self, payload: bytes) -> bytes:
        nonce = _nonce(self._counter)
        self._counter += 1
        return self._box.encrypt(payload, nonce).ciphertext


class Opener:
    """Opens incoming frames in order; the counter only advances on a frame that authenticates."""

    def __init__(self, key: bytes) -> None:
        self._box = SecretBox(key)
        self._counter = 0

    def open(self, sealed: bytes) -> bytes:
        """The payload of the next frame. Raises LinkError if it is not exactly that frame."""
        nonce = _nonce(self._counter)
        try:
            payload = self._box.decrypt(sealed, nonce)
        except CryptoError:  # also covers input shorter than the MAC
            raise LinkError(
                f"frame {self._counter} failed authentication (tampered, replayed or out of order)"
            ) from None
        self._counter += 1
        return payload
