"""Keys, digests and domain-separated Ed25519 signatures.

Every signature covers ``b"sequencer-net/v1" | chain_id | kind | payload`` with each part
length-prefixed, so a signature made for one chain or one message kind can never be replayed as
another. Verification results are memoised: the same (key, message, signature) triple is checked
once per process, which matters when every vote reaches every node several times.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

# PyNaCl is imported where keys are made or checked: a command that only parses its
# arguments or prints help does not load it.

DOMAIN = b"sequencer-net/v1"
DIGEST_SIZE = 32
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64


def digest(data: bytes) -> bytes:
    """32-byte BLAKE2b digest: the one hash used for ids everywhere."""
    return hashlib.blake2b(data, digest_size=DIGEST_SIZE).digest()


def sign_bytes(chain_id: str, kind: str, payload: bytes) -> bytes:
    """The exact bytes a signature covers (domain, chain, kind, payload; length-prefixed)."""
    parts = (DOMAIN, chain_id.encode(), kind.encode(), payload)
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


class PrivateKey:
    """An Ed25519 signing key with the project's domain separation built in."""

    __slots__ = ("_key", "public_key")

    def __init__(self, seed: bytes) -> None:
        from nacl.signing import SigningKey

        if len(seed) != 32:
            raise ValueError("an Ed25519 seed is 32 bytes")
        self._key = SigningKey(seed)
        self.public_key: bytes = bytes(self._key.verify_key)

    @classmethod
    def generate(cls) -> PrivateKey:
        from nacl.signing import SigningKey

        return cls(bytes(SigningKey.generate()))

    @classmethod
    def from_label(cls, label: str) -> PrivateKey:
        """A deterministic key for simulations and tests (never for real clusters)."""
        return cls(digest(b"sequencer-net/test-key/" + label.encode()))

    @property
    def seed(self) -> bytes:
        return bytes(self._key)

    def sign(self, chain_id: str, kind: str, payload: bytes) -> bytes:
        return self._key.sign(sign_bytes(chain_id, kind, payload)).signature


@lru_cache(maxsize=1 << 16)
def _verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    from nacl.exceptions import BadSignatureError
    from nacl.signing import VerifyKey

    try:
        VerifyKey(public_key).verify(message, signature)
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True


def verify(public_key: bytes, chain_id: str, kind: str, payload: bytes, signature: bytes) -> bool:
    """True when ``signature`` is ``public_key``'s signature of this (chain, kind, payload)."""
    if len(public_key) != PUBLIC_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        return False
    return _verify(public_key, sign_bytes(chain_id, kind, payload), signature)
