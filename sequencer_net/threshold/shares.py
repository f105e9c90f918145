"""Decryption shares and combining them: ``D_i = x_i U`` with a DLEQ proof, and ``S = sum l_i
D_i`` over a threshold of verified shares (Lagrange interpolation in the exponent).

Every share is checked before it is used. Combining unchecked shares and trusting the AEAD tag
would be cheaper, but Poly1305 does not commit to its key: a client colluding with one
validator can make a box that opens to different plaintexts under the right and a skewed
``S``, and nodes that combined different sets would then disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from . import dleq, group, shamir
from .hybrid import Ciphertext, open_with
from .keys import KeyShare, ThresholdPublic


@dataclass(frozen=True)
class DecryptionShare:
    index: int
    point: bytes
    proof: bytes


@lru_cache(maxsize=4096)
def _verification_key(x: bytes) -> bytes:
    """``x G`` for a secret share, computed once (every proof restates it)."""
    return group.base_mul(x)


def make_shares(key: KeyShare, ct: Ciphertext) -> list[DecryptionShare]:
    """This validator's shares for ``ct``, each with its proof."""
    out = []
    for i, x in key.shares:
        d = group.mul(x, ct.u)
        out.append(DecryptionShare(i, d, dleq.prove(x, ct.u, d, y=_verification_key(x))))
    return out


def share_valid(public: ThresholdPublic, ct: Ciphertext, share: DecryptionShare) -> bool:
    """The share's proof holds against its index's verification key."""
    if not 1 <= share.index <= public.share_count:
        return False
    y = public.verification_keys[share.index - 1]
    return dleq.verify(y, ct.u, share.point, share.proof)


def valid_shares(
    public: ThresholdPublic, ct: Ciphertext, shares: Iterable[DecryptionShare]
) -> dict[int, DecryptionShare]:
    """The shares whose proofs hold, by index (a repeated index counts once)."""
    out: dict[int, DecryptionShare] = {}
    for s in shares:
        if s.index not in out and share_valid(public, ct, s):
            out[s.index] = s
    return out


def combine(public: ThresholdPublic, verified: Mapping[int, DecryptionShare]) -> bytes:
    """``S = x U`` from verified shares (the lowest ``threshold`` indices, so the work is the
    same everywhere); ValueError when there are too few."""
    if len(verified) < public.threshold:
        raise ValueError(f"need {public.threshold} shares, have {len(verified)}")
    indices = tuple(sorted(verified)[: public.threshold])
    acc: bytes | None = None
    for i, lam in zip(indices, _coefficients(indices), strict=True):
        term = group.mul(lam, verified[i].point)
        acc = term if acc is None else group.add(acc, term)
    assert acc is not None
    return acc


@lru_cache(maxsize=256)
def _coefficients(indices: tuple[int, ...]) -> list[bytes]:
    """Lagrange coefficients, once per index set (the same set serves many ciphertexts)."""
    return shamir.lagrange_at_zero(indices)


def decrypt(
    public: ThresholdPublic,
    ct: Ciphertext,
    namespace: str,
    sender: str,
    verified: Mapping[int, DecryptionShare],
) -> bytes | None:
    """The plaintext from a threshold of verified shares; None when the box does not open, the
    same verdict on every node since ``S`` is unique."""
    return open_with(ct, combine(public, verified), namespace, sender)
