"""Shamir sharing over the group order, and Lagrange coefficients at zero, with libsodium's
scalar operations."""

from __future__ import annotations

from collections.abc import Sequence

from . import group


def deal(secret: bytes, threshold: int, count: int) -> list[bytes]:
    """Shares ``f(1) .. f(count)`` of a random polynomial of degree ``threshold - 1`` with
    ``f(0) = secret``: any ``threshold`` of them determine it, fewer say nothing about it."""
    if not 1 <= threshold <= count:
        raise ValueError(f"threshold must be 1..{count}, got {threshold}")
    coeffs = [secret] + [group.random_scalar() for _ in range(threshold - 1)]
    shares = []
    for i in range(1, count + 1):
        x = group.scalar(i)
        acc = coeffs[-1]
        for c in reversed(coeffs[:-1]):  # Horner
            acc = group.s_add(group.s_mul(acc, x), c)
        shares.append(acc)
    return shares


def lagrange_at_zero(indices: Sequence[int]) -> list[bytes]:
    """The coefficients ``l_i = prod_{j != i} j / (j - i)`` for distinct positive indices, so
    that ``f(0) = sum l_i f(i)`` for any polynomial of degree below ``len(indices)``."""
    if len(set(indices)) != len(indices) or any(i < 1 for i in indices):
        raise ValueError("share indices must be distinct and positive")
    out = []
    for i in indices:
        num = group.scalar(1)
        den = group.scalar(1)
        for j in indices:
            if j != i:
                num = group.s_mul(num, group.scalar(j))
                den = group.s_mul(den, group.scalar(j - i))
        out.append(group.s_mul(num, group.s_inv(den)))
    return out
