"""Hybrid threshold ElGamal: an ephemeral point ``U = r G``, a key hashed from the shared point
``S = r Y``, and XChaCha20-Poly1305 with the namespace, the sender and ``U`` as associated data.

A Schnorr proof of knowledge of ``r``, bound to the namespace, the sender and the sealed box,
travels with the ciphertext. Without it anyone could copy a pending ciphertext's ``U`` into a
transaction of their own, have it committed and decrypted, and so learn ``S`` (and the victim's
plaintext) before the victim's transaction is ordered. Validators release shares only for a
ciphertext whose proof holds, so ``U`` is only ever opened with the label its maker chose.

Layout: ``U (32) | c (32) | z (32) | nonce (24) | box`` where ``box`` is the AEAD output.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from nacl import bindings as _b
from nacl.exceptions import CryptoError

from . import group

NONCE_SIZE = 24
TAG_SIZE = 16
HEADER_SIZE = 3 * 32 + NONCE_SIZE
_POK_DOMAIN = b"sn/tpke/pok/v1"
_KEY_DOMAIN = b"sn/tpke/key/v1"
_AD_DOMAIN = b"sn/tpke/ad/v1"


def _lp(*parts: bytes) -> bytes:
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


def _label(namespace: str, sender: str, nonce: bytes, box: bytes) -> bytes:
    return _lp(namespace.encode(), sender.encode(), nonce, box)


def _ad(namespace: str, sender: str, u: bytes) -> bytes:
    return _lp(_AD_DOMAIN, namespace.encode(), sender.encode(), u)


def _key(u: bytes, s: bytes) -> bytes:
    return hashlib.blake2b(_lp(_KEY_DOMAIN, u, s), digest_size=32).digest()


@dataclass(frozen=True)
class Ciphertext:
    """A parsed ciphertext; ``parse`` checks only its shape, ``label_holds`` its proof."""

    u: bytes
    c: bytes
    z: bytes
    nonce: bytes
    box: bytes

    @classmethod
    def parse(cls, raw: bytes) -> Ciphertext:
        if len(raw) < HEADER_SIZE + TAG_SIZE:
            raise ValueError(f"ciphertext must be at least {HEADER_SIZE + TAG_SIZE} bytes")
        u, c, z = raw[:32], raw[32:64], raw[64:96]
        if not group.is_point(u):
            raise ValueError("ciphertext's ephemeral key is not a valid group element")
        if not (group.is_scalar(c) and group.is_scalar(z)):
            raise ValueError("ciphertext's proof scalars are out of range")
        return cls(u, c, z, raw[96:HEADER_SIZE], raw[HEADER_SIZE:])

    @property
    def raw(self) -> bytes:
        return self.u + self.c + self.z + self.nonce + self.box

    def label_holds(self, namespace: str, sender: str) -> bool:
        """The proof of knowledge of ``U``'s log holds for this namespace and sender."""
        try:
            a = group.sub(group.base_mul(self.z), group.mul(self.c, self.u))
        except ValueError:
            return False
        label = _label(namespace, sender, self.nonce, self.box)
        return group.hash_to_scalar(_POK_DOMAIN, self.u, a, label) == self.c


def encrypt(public_key: bytes, namespace: str, sender: str, plaintext: bytes) -> bytes:
    """A ciphertext of ``plaintext`` that only a threshold of ``public_key``'s shares open,
    bound to ``namespace`` and ``sender``."""
    if not group.is_point(public_key):
        raise ValueError("threshold public key is not a valid group element")
    r = group.random_scalar()
    u = group.base_mul(r)
    s = group.mul(r, public_key)
    nonce = os.urandom(NONCE_SIZE)
    box = _b.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, _ad(namespace, sender, u), nonce, _key(u, s)
    )
    k = group.random_scalar()
    a = group.base_mul(k)
    c = group.hash_to_scalar(_POK_DOMAIN, u, a, _label(namespace, sender, nonce, box))
    z = group.s_add(k, group.s_mul(c, r))
    return u + c + z + nonce + box


def open_with(ct: Ciphertext, shared: bytes, namespace: str, sender: str) -> bytes | None:
    """The plaintext, given the shared point ``S = x U``; None when the box does not open
    (tampered, or made for another namespace or sender)."""
    try:
        return bytes(
            _b.crypto_aead_xchacha20poly1305_ietf_decrypt(
                ct.box, _ad(namespace, sender, ct.u), ct.nonce, _key(ct.u, shared)
            )
        )
    except (CryptoError, ValueError, TypeError):
        return None
