"""RFC 6962 (Certificate Transparency) Merkle trees: the namespace tables' commitments.

Leaves hash as ``SHA-256(0x00 || data)`` and inner nodes as ``SHA-256(0x01 || left || right)``,
so no leaf can pass for a node (second-preimage attacks on plain Merkle trees). The tree of
``n`` leaves splits at the largest power of two below ``n`` (RFC 6962 section 2.1), and an
inclusion proof is the audit path of section 2.1.1, checked by RFC 9162's algorithm (section
2.1.3.2), which binds the leaf's index and the tree size too: a proof for index 3 of 8 cannot
pass for index 4, which is what makes the sorted neighbours of an absence proof adjacent.

No package on the approved lists implements these with plain ``hashlib`` speed; this one is
small and checked against the RFC's published test vectors (tests/unit/test_merkle.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HEAD_PREFIX = b"\x02"
EMPTY_ROOT = hashlib.sha256(b"").digest()  # RFC 6962: the hash of an empty tree


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(leaves): the root over the leaves' data."""
    sha = hashlib.sha256
    return root_of_hashes([sha(LEAF_PREFIX + leaf).digest() for leaf in leaves])


def root_of_hashes(hashes: Sequence[bytes]) -> bytes:
    """The root over already-hashed leaves, bottom up: pairing neighbours level by level and
    carrying an odd last node up gives exactly RFC 6962's split at the largest power of two.
    (Hashing inline: this runs once per chunk over its transactions, on the hot path.)"""
    if not hashes:
        return EMPTY_ROOT
    sha, prefix = hashlib.sha256, NODE_PREFIX
    level = list(hashes)
    while len(level) > 1:
        pairs = zip(level[::2], level[1::2], strict=False)  # an odd last node waits a level
        paired = [sha(prefix + a + b).digest() for a, b in pairs]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def inclusion_path(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, leaves): the sibling hashes from the leaf up to the root."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf index {index} outside a tree of {len(leaves)}")
    return _path(index, [leaf_hash(leaf) for leaf in leaves])


def _path(index: int, hashes: list[bytes]) -> list[bytes]:
    n = len(hashes)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)  # the largest power of two below n
    if index < k:
        return [*_path(index, hashes[:k]), root_of_hashes(hashes[k:])]
    return [*_path(index - k, hashes[k:]), root_of_hashes(hashes[:k])]


def verify_inclusion(
    data: bytes, index: int, size: int, path: Sequence[bytes], expected_root: bytes
) -> bool:
    """True when ``data`` is leaf ``index`` of a tree of ``size`` leaves with ``expected_root``
    (RFC 9162 section 2.1.3.2). The size is trusted: some proofs pass for two sizes (leaf 0
    of three and of four leaves take the same turns), so a verifier that learns the size from
    the prover checks against a :func:`head` instead (:func:`verify_in_head`)."""
    return root_from_path(data, index, size, path) == expected_root


def head(size: int, tree_root: bytes) -> bytes:
    """A tree head: the root bound to the size, as a CT signed tree head binds them, so an
    inclusion proof cannot be replayed against another size of the same root."""
    return hashlib.sha256(HEAD_PREFIX + size.to_bytes(8, "big") + tree_root).digest()


def commitment(leaves: Sequence[bytes]) -> bytes:
    """The tree head over ``leaves``: what the namespace tables commit to."""
    return head(len(leaves), root(leaves))


EMPTY_COMMITMENT = head(0, EMPTY_ROOT)


def verify_in_head(
    data: bytes, index: int, size: int, path: Sequence[bytes], expected_head: bytes
) -> bool:
    """True when ``data`` is leaf ``index`` of the ``size``-leaf tree ``expected_head`` heads."""
    computed = root_from_path(data, index, size, path)
    return computed is not None and head(size, computed) == expected_head


def root_from_path(data: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """The root ``path`` leads to from leaf ``index`` of ``size`` (None: it cannot be such a
    path)."""
    if not 0 <= index < size or any(len(h) != 32 for h in path):
        return None
    fn, sn = index, size - 1
    result = leaf_hash(data)
    for sibling in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    return result if sn == 0 else None
