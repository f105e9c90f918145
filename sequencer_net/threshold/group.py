"""The prime-order Ed25519 group through libsodium: points and scalars as 32-byte strings.

Wrappers turn libsodium's errors (an invalid point, a zero scalar, the identity as a product)
into ValueError, so the callers check one kind of failure. Scalars are reduced mod the group
order L; points are canonical encodings of elements of the main subgroup.
"""

from __future__ import annotations

import hashlib
import os

from nacl import bindings as _b
from nacl.exceptions import CryptoError

SCALAR_SIZE = 32
POINT_SIZE = 32
ORDER = 2**252 + 27742317777372353535851937790883648493  # L, for range checks only


def _call(fn: object, *args: bytes) -> bytes:
    try:
        return fn(*args)  # type: ignore[operator]
    except (CryptoError, TypeError, ValueError) as exc:
        raise ValueError(f"group operation failed: {exc}") from None


def is_point(p: bytes) -> bool:
    """A canonical encoding of a non-small-order point of the main subgroup."""
    return (
        type(p) is bytes and len(p) == POINT_SIZE and bool(_b.crypto_core_ed25519_is_valid_point(p))
    )


def is_scalar(s: bytes) -> bool:
    """A reduced, non-zero scalar (the only kind the protocol sends)."""
    return type(s) is bytes and len(s) == SCALAR_SIZE and 0 < int.from_bytes(s, "little") < ORDER


def scalar(n: int) -> bytes:
    """The scalar ``n mod L`` (share indices, small integers)."""
    return (n % ORDER).to_bytes(SCALAR_SIZE, "little")


def random_scalar() -> bytes:
    """A uniform non-zero scalar (64 random bytes reduced, as libsodium's own keygen)."""
    while True:
        s = _b.crypto_core_ed25519_scalar_reduce(os.urandom(64))
        if is_scalar(s):
            return s


def hash_to_scalar(domain: bytes, *parts: bytes) -> bytes:
    """A scalar from a domain-separated BLAKE2b-512 of length-prefixed parts (Fiat-Shamir)."""
    h = hashlib.blake2b(digest_size=64, person=domain[:16].ljust(16, b"\0"))
    for p in parts:
        h.update(len(p).to_bytes(4, "big"))
        h.update(p)
    return bytes(_b.crypto_core_ed25519_scalar_reduce(h.digest()))


def add(p: bytes, q: bytes) -> bytes:
    return _call(_b.crypto_core_ed25519_add, p, q)


def sub(p: bytes, q: bytes) -> bytes:
    return _call(_b.crypto_core_ed25519_sub, p, q)


def base_mul(s: bytes) -> bytes:
    """``s * G``."""
    return _call(_b.crypto_scalarmult_ed25519_base_noclamp, s)


def mul(s: bytes, p: bytes) -> bytes:
    """``s * p``; ValueError for an invalid point, a zero scalar or an identity product."""
    return _call(_b.crypto_scalarmult_ed25519_noclamp, s, p)


def s_add(a: bytes, b: bytes) -> bytes:
    return _call(_b.crypto_core_ed25519_scalar_add, a, b)


def s_sub(a: bytes, b: bytes) -> bytes:
    return _call(_b.crypto_core_ed25519_scalar_sub, a, b)


def s_mul(a: bytes, b: bytes) -> bytes:
    return _call(_b.crypto_core_ed25519_scalar_mul, a, b)


def s_inv(a: bytes) -> bytes:
    return _call(_b.crypto_core_ed25519_scalar_invert, a)
