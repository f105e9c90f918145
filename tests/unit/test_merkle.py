"""RFC 6962 Merkle trees and the namespace proofs built on them.

The tree is checked against the RFC's published test vectors (the certificate-transparency
reference data), then by hypothesis: every inclusion proof verifies, and no proof survives a
flipped byte, another index or another size. The namespace proofs of whole committed batches
are checked the same way: every (namespace, height) inclusion and absence proof verifies, and
flipping any byte, dropping or reordering a transaction, or taking another height's commit
certificate makes verification fail. Replay a failure with the seed hypothesis prints
(``pytest tests/unit/test_merkle.py --hypothesis-seed=N``).
"""

from __future__ import annotations

import dataclasses

from helpers.nsproofs import CHAIN, GENESIS, KEYS, build_chain, double_vote
from hypothesis import given, settings
from hypothesis import strategies as st

from sequencer_net import codec, merkle
from sequencer_net.nsproof import NamespaceProof, ProofError, SlashedAt, verify_proof

# RFC 6962 test vectors: leaves and the roots of their first n (certificate-transparency's
# merkle_tree_test data, also in transparency-dev/merkle).
LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
FAST = settings(max_examples=60, deadline=None)


def test_roots_match_the_rfc_6962_vectors() -> None:
    assert merkle.root([]).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    for n, expected in enumerate(ROOTS, start=1):
        assert merkle.root(LEAVES[:n]).hex() == expected


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    a, b = merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")
    # A two-leaf root is not the leaf hash of the two hashes side by side.
    assert merkle.root([b"a", b"b"]) == merkle.node_hash(a, b) != merkle.leaf_hash(a + b)
    # ... nor can an inner node be passed off as a leaf of a smaller tree.
    assert not merkle.verify_inclusion(a + b, 0, 1, [], merkle.root([b"a", b"b"]))


leaf_lists = st.lists(st.binary(max_size=40), min_size=1, max_size=40)


@FAST
@given(leaves=leaf_lists, data=st.data())
def test_every_inclusion_proof_verifies_and_any_change_fails(
    leaves: list[bytes], data: st.DataObject
) -> None:
    """Against a tree head (root and size), no proof survives another index, another size, a
    changed leaf or a changed, dropped or added path hash."""
    n = len(leaves)
    root, head = merkle.root(leaves), merkle.commitment(leaves)
    for i, leaf in enumerate(leaves):
        path = merkle.inclusion_path(leaves, i)
        assert merkle.verify_inclusion(leaf, i, n, path, root)
        assert merkle.verify_in_head(leaf, i, n, path, head)
    i = data.draw(st.integers(0, n - 1), label="index")
    path = merkle.inclusion_path(leaves, i)

    def passes(leaf: bytes, index: int, size: int, p: list[bytes]) -> bool:
        return merkle.verify_in_head(leaf, index, size, p, head)

    if leaves.count(leaves[i]) == 1:
        assert not any(passes(leaves[i], j, n, path) for j in range(n) if j != i)
    for size in (n - 1, n + 1, 2 * n):
        assert not passes(leaves[i], i, size, path)
    assert not passes(leaves[i] + b"x", i, n, path)
    for k, sibling in enumerate(path):
        for bit in (0, 7):
            flipped = bytes([sibling[0] ^ (1 << bit)]) + sibling[1:]
            assert not passes(leaves[i], i, n, [*path[:k], flipped, *path[k + 1 :]])
    if path:
        assert not passes(leaves[i], i, n, path[:-1])
    assert not passes(leaves[i], i, n, [*path, root])


def test_a_bare_root_does_not_bind_the_size_but_a_head_does() -> None:
    """Why tables commit to a head: leaf 0 of three leaves takes the same turns as leaf 0 of
    four, so against the bare root a prover could claim either size."""
    leaves = [b"a", b"a", b"a"]
    path = merkle.inclusion_path(leaves, 0)
    assert merkle.verify_inclusion(b"a", 0, 4, path, merkle.root(leaves))
    assert not merkle.verify_in_head(b"a", 0, 4, path, merkle.commitment(leaves))


# ---- namespace proofs over committed batches -----------------------------------------------

CHAIN_SEEDS = st.integers(0, 2**32 - 1)


@settings(max_examples=8, deadline=None)
@given(seed=CHAIN_SEEDS)
def test_every_namespace_proof_of_every_height_verifies(seed: int) -> None:
    """For every height and every namespace of the registry (some absent there): the proof
    verifies, and lists exactly that namespace's transactions in committed order."""
    chain = build_chain(seed)
    for height, entry in chain.entries.items():
        for ns in GENESIS.namespaces:
            proof = chain.proof(ns.name, height)
            result = verify_proof(proof, GENESIS)
            expected = [tx for tx in entry.txs if chain.namespace_of(tx) == ns.name]
            assert list(result.txs) == expected, (seed, height, ns.name)


def _fails(proof: NamespaceProof) -> bool:
    try:
        verify_proof(proof, GENESIS)
    except ProofError:
        return True
    return False


def _decoded_or_none(data: bytes) -> NamespaceProof | None:
    try:
        return codec.decode(data, NamespaceProof)  # type: ignore[no-any-return]
    except codec.DecodeError:
        return None


@settings(max_examples=20, deadline=None)
@given(seed=CHAIN_SEEDS, data=st.data())
def test_tampered_namespace_proofs_fail(seed: int, data: st.DataObject) -> None:
    chain = build_chain(seed)
    height = data.draw(st.sampled_from(sorted(chain.entries)), label="height")
    ns = data.draw(st.sampled_from([n.name for n in GENESIS.namespaces]), label="namespace")
    proof = chain.proof(ns, height)
    assert not _fails(proof)
    encoded = codec.encode(proof)
    # Any flipped byte: the encoding no longer decodes, or the proof no longer verifies.
    at = data.draw(st.integers(0, len(encoded) - 1), label="byte")
    bit = data.draw(st.integers(0, 7), label="bit")
    flipped = bytearray(encoded)
    flipped[at] ^= 1 << bit
    tampered = _decoded_or_none(bytes(flipped))
    assert tampered is None or tampered == proof or _fails(tampered), (at, bit)
    # Another height's commit certificate.
    others = [h for h in chain.entries if h != height]
    other = data.draw(st.sampled_from(others), label="other height")
    assert _fails(dataclasses.replace(proof, certificate=chain.entries[other].certificate))
    # Dropping or reordering a transaction.
    groups = proof.groups
    flat = [tx for g in groups for tx in g]
    if flat:
        g = data.draw(st.integers(0, len(groups) - 1), label="group")
        dropped = (*groups[:g], groups[g][1:], *groups[g + 1 :])
        assert _fails(dataclasses.replace(proof, groups=dropped))
        if len(set(flat)) > 1:
            reordered = _reordered(groups)
            assert _fails(dataclasses.replace(proof, groups=reordered))
        # A transaction of another namespace slipped in.
        stranger = chain.tx_of("other-ns" if ns != "other-ns" else "rollup-a")
        slipped = (*groups[:g], (*groups[g], stranger), *groups[g + 1 :])
        assert _fails(dataclasses.replace(proof, groups=slipped))


def _reordered(groups: tuple[tuple[bytes, ...], ...]) -> tuple[tuple[bytes, ...], ...]:
    """The same transactions with two different ones swapped (within or across chunks)."""
    flat = [(gi, ti) for gi, g in enumerate(groups) for ti in range(len(g))]
    lists = [list(g) for g in groups]
    for a in range(len(flat)):
        for b in range(a + 1, len(flat)):
            (ga, ta), (gb, tb) = flat[a], flat[b]
            if lists[ga][ta] != lists[gb][tb]:
                lists[ga][ta], lists[gb][tb] = lists[gb][tb], lists[ga][ta]
                return tuple(tuple(g) for g in lists)
    raise AssertionError("no two different transactions")


def test_helpers_are_deterministic() -> None:
    assert KEYS and CHAIN
    a, b = build_chain(7), build_chain(7)
    assert [e.batch.id for e in a.entries.values()] == [e.batch.id for e in b.entries.values()]


def test_a_proof_after_a_slashing_verifies_with_the_slashing_it_carries_only() -> None:
    """Height 2 jails n3; the proof of height 4 carries that slashing, and the verifier's
    rebuilt set must hash to the header's: leaving it out, adding one that was never
    committed, or forging its evidence fails."""
    chain = build_chain(11, heights=4, slash_at=2)
    proof = chain.proof("rollup-a", 4)
    assert len(proof.slashings) == 1 and proof.slashings[0].height == 2
    assert not _fails(proof)
    assert _fails(dataclasses.replace(proof, slashings=()))
    extra = SlashedAt(3, double_vote(KEYS[2], 2))  # real evidence, never committed
    assert _fails(dataclasses.replace(proof, slashings=(*proof.slashings, extra)))
    (slashed,) = proof.slashings
    vote = slashed.evidence.second
    forged = dataclasses.replace(
        slashed.evidence, second=dataclasses.replace(vote, signature=b"\xff" * 64)
    )
    assert _fails(dataclasses.replace(proof, slashings=(SlashedAt(2, forged),)))
    # Heights up to the slashing's own need none (the set changes after it).
    assert chain.proof("rollup-a", 2).slashings == ()
    assert not _fails(chain.proof("rollup-a", 2))


def test_every_byte_of_one_proof_is_covered() -> None:
    """Exhaustively: flipping each byte of an inclusion proof's encoding breaks it."""
    chain = build_chain(3)
    height = next(h for h, e in chain.entries.items() if e.chunks)
    namespace = chain.namespace_of(chain.entries[height].chunks[0].txs[0])
    proof = chain.proof(namespace, height)
    encoded = codec.encode(proof)
    for at in range(len(encoded)):
        flipped = bytearray(encoded)
        flipped[at] ^= 0x01
        tampered = _decoded_or_none(bytes(flipped))
        assert tampered is None or _fails(tampered), at
