"""Decryption shares on the wire: what a validator sends its peers after a commit, and the
request a node missing shares sends.

:class:`DecryptionShares` is signed by its validator over the height and the share sets, so a
release is attributable: shares for a ciphertext that height did not commit are a leak the
signature proves (docs/private.md). Every collection is bounded before it is decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Annotated

from .. import codec
from ..crypto import DIGEST_SIZE, PUBLIC_KEY_SIZE, SIGNATURE_SIZE, PrivateKey, digest, verify

SHARES_KIND = "decryption-shares"
MAX_SETS_PER_MESSAGE = 64  # ciphertexts per message; a batch's shares go in several
MAX_SHARES_PER_SET = 6_000  # a validator's share count is at most N = 6 n, n <= 1,000
POINT_SIZE = 32
PROOF_SIZE = 64


def _need(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)


@codec.register(70)
@dataclass(frozen=True)
class WireShare:
    index: int
    point: bytes
    proof: bytes

    def __post_init__(self) -> None:
        _need(self.index >= 1, "share index must be >= 1")
        _need(len(self.point) == POINT_SIZE, f"share point must be {POINT_SIZE} bytes")
        _need(len(self.proof) == PROOF_SIZE, f"share proof must be {PROOF_SIZE} bytes")


@codec.register(71)
@dataclass(frozen=True)
class ShareSet:
    """One validator's shares for the ciphertext of one committed transaction."""

    tx_id: bytes
    shares: Annotated[tuple[WireShare, ...], codec.MaxLen(MAX_SHARES_PER_SET)]

    def __post_init__(self) -> None:
        _need(len(self.tx_id) == DIGEST_SIZE, f"tx id must be {DIGEST_SIZE} bytes")
        _need(0 < len(self.shares) <= MAX_SHARES_PER_SET, "a share set holds 1..6000 shares")
        indices = [s.index for s in self.shares]
        _need(indices == sorted(set(indices)), "share indices must be distinct and ascending")


def shares_payload(height: int, sets: tuple[ShareSet, ...]) -> bytes:
    """What the signature covers: the height the sender says it committed, and the sets."""
    return digest(height.to_bytes(8, "big") + b"".join(codec.encode(s) for s in sets))


@codec.register(72)
@dataclass(frozen=True)
class DecryptionShares:
    height: int
    validator: bytes
    sets: Annotated[tuple[ShareSet, ...], codec.MaxLen(MAX_SETS_PER_MESSAGE)]
    signature: bytes

    def __post_init__(self) -> None:
        _need(self.height >= 1, "height must be >= 1")
        _need(len(self.validator) == PUBLIC_KEY_SIZE, "validator must be a public key")
        _need(0 < len(self.sets) <= MAX_SETS_PER_MESSAGE, "a message holds 1..64 share sets")
        _need(len(self.signature) == SIGNATURE_SIZE, "signature must be 64 bytes")
        ids = [s.tx_id for s in self.sets]
        _need(len(set(ids)) == len(ids), "one share set per transaction")

    @cached_property
    def payload(self) -> bytes:
        return shares_payload(self.height, self.sets)

    def verify(self, chain_id: str) -> bool:
        return verify(self.validator, chain_id, SHARES_KIND, self.payload, self.signature)


def sign_shares(
    key: PrivateKey, chain_id: str, height: int, sets: tuple[ShareSet, ...]
) -> DecryptionShares:
    signature = key.sign(chain_id, SHARES_KIND, shares_payload(height, sets))
    return DecryptionShares(height, key.public_key, sets, signature)


@codec.register(73)
@dataclass(frozen=True)
class SharesRequest:
    """Ask the peers for their shares of a committed height this node has not decrypted
    (it missed them, or caught up or restarted since); only a node that committed it answers."""

    height: int

    def __post_init__(self) -> None:
        _need(self.height >= 1, "height must be >= 1")
