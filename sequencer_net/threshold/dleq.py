"""Chaum-Pedersen proofs that ``log_G(Y) == log_U(D)``: a decryption share ``D = x U`` was made
with the secret share ``x`` behind the public verification key ``Y = x G``.

A proof is the challenge and the response ``(c, z)``; the verifier recomputes the commitments
``A1 = z G - c Y`` and ``A2 = z U - c D`` and checks the challenge hashes them.
"""

from __future__ import annotations

from . import group

_DOMAIN = b"sn/tpke/dleq/v1"
PROOF_SIZE = 2 * group.SCALAR_SIZE


def _challenge(y: bytes, u: bytes, d: bytes, a1: bytes, a2: bytes, context: bytes) -> bytes:
    return group.hash_to_scalar(_DOMAIN, y, u, d, a1, a2, context)


def prove(x: bytes, u: bytes, d: bytes, context: bytes = b"", y: bytes | None = None) -> bytes:
    """Proof that ``d = x u`` for the ``x`` of ``y = x G`` (computed when not given);
    ``context`` is bound into it."""
    y = group.base_mul(x) if y is None else y
    k = group.random_scalar()
    a1, a2 = group.base_mul(k), group.mul(k, u)
    c = _challenge(y, u, d, a1, a2, context)
    z = group.s_add(k, group.s_mul(c, x))
    return c + z


def verify(y: bytes, u: bytes, d: bytes, proof: bytes, context: bytes = b"") -> bool:
    """True when ``proof`` shows ``d`` has the discrete log of ``y`` base ``u``."""
    if len(proof) != PROOF_SIZE or not (group.is_point(y) and group.is_point(u)):
        return False
    if not group.is_point(d):
        return False
    c, z = proof[:32], proof[32:]
    if not (group.is_scalar(c) and group.is_scalar(z)):
        return False
    try:
        a1 = group.sub(group.base_mul(z), group.mul(c, y))
        a2 = group.sub(group.mul(z, u), group.mul(c, d))
    except ValueError:
        return False
    return _challenge(y, u, d, a1, a2, context) == c
