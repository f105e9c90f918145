"""Namespace proofs: a rollup's transactions at one height, checkable with genesis alone.

A :class:`NamespaceProof` holds the batch header, the commit certificate (precommits) of its
height, the namespace's entry of the batch's namespace table with its Merkle path to the
header's ``namespaces_root`` and, per chunk carrying the namespace, its transactions in chunk
order; or, for a namespace the batch does not carry, the sorted neighbours' entries with
their paths (or nothing, for an empty table). It also carries every slashing committed below
its height, so a verifier with only genesis rebuilds the validator set of that height and
checks it against the header's ``validator_set_hash`` before counting the precommits.

What it proves: the batch a quorum committed at that height carries exactly these
transactions of the namespace, in this order. The committed order drops a transaction
carried twice in the batch (after its first place, which :func:`verify_proof` does too)
and one an earlier height committed (a follower that has the earlier heights drops it; the
proof alone cannot know it). See docs/namespaces.md.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated

from . import codec, merkle
from .evidence import SlashRecord
from .genesis import Genesis
from .messages import CommittedBatch
from .namespaces import batch_table
from .types import (
    MAX_BATCH_CHUNKS,
    MAX_CHUNK_TXS,
    BatchHeader,
    Certificate,
    Evidence,
    NamespaceEntry,
    table_root,
    tx_id,
    tx_namespace,
)
from .validators import ValidatorSet

MAX_PATH = 64
MAX_SLASHINGS = 100_000


class ProofError(ValueError):
    """A namespace proof does not verify; the message says which check failed."""


@codec.register(50)
@dataclass(frozen=True)
class TableLeaf:
    """One entry of a batch's namespace table, its index and its path to the root."""

    index: int
    entry: NamespaceEntry
    path: Annotated[tuple[bytes, ...], codec.MaxLen(MAX_PATH)]


@codec.register(51)
@dataclass(frozen=True)
class SlashedAt:
    """Evidence committed at ``height``: its offender is punished from ``height + 1`` on."""

    height: int
    evidence: Evidence


@codec.register(52)
@dataclass(frozen=True)
class NamespaceProof:
    namespace: str
    header: BatchHeader
    certificate: Certificate
    table_size: int
    # Inclusion: the namespace's own entry. Absence: its sorted neighbours (0, 1 or 2).
    leaves: Annotated[tuple[TableLeaf, ...], codec.MaxLen(2)]
    # Inclusion: per chunk carrying the namespace, in batch order, its transactions of it.
    groups: Annotated[
        tuple[Annotated[tuple[bytes, ...], codec.MaxLen(MAX_CHUNK_TXS)], ...],
        codec.MaxLen(MAX_BATCH_CHUNKS),
    ]
    slashings: Annotated[tuple[SlashedAt, ...], codec.MaxLen(MAX_SLASHINGS)]

    @property
    def height(self) -> int:
        return self.header.height


@dataclass(frozen=True)
class Verified:
    """What a proof that verified says."""

    namespace: str
    ns_id: int
    height: int
    present: bool
    txs: tuple[bytes, ...]  # committed order, repeats within the batch dropped
    repeats: int  # transactions the batch carried twice (dropped after their first place)
    header: BatchHeader


def build_proof(
    entry: CommittedBatch, namespace: str, ns_id: int, slashes: Iterable[SlashRecord]
) -> NamespaceProof:
    """The proof for ``namespace`` (id ``ns_id``) at ``entry``'s height, from a node's store."""
    table = batch_table(entry.batch.chunks)
    leaves = [e.encoded for e in table]
    ids = [e.ns_id for e in table]

    def leaf(i: int) -> TableLeaf:
        return TableLeaf(i, table[i], tuple(merkle.inclusion_path(leaves, i)))

    at = bisect.bisect_left(ids, ns_id)
    groups: list[tuple[bytes, ...]] = []
    chosen: tuple[TableLeaf, ...]
    if at < len(ids) and ids[at] == ns_id:
        chosen = (leaf(at),)
        for cert, chunk in zip(entry.batch.chunks, entry.chunks, strict=True):
            if any(e.ns_id == ns_id for e in cert.namespaces):
                groups.append(tuple(tx for tx in chunk.txs if tx_namespace(tx) == namespace))
    else:
        chosen = tuple(leaf(i) for i in (at - 1, at) if 0 <= i < len(ids))
    slashings = tuple(
        SlashedAt(r.committed_height, r.evidence)
        for r in slashes
        if r.committed_height < entry.height
    )
    return NamespaceProof(
        namespace, entry.batch.header, entry.certificate, len(table), chosen, tuple(groups),
        slashings,
    )  # fmt: skip


def verify_proof(proof: NamespaceProof, genesis: Genesis) -> Verified:
    """Check ``proof`` against ``genesis`` alone; :class:`ProofError` says what failed."""
    header, cert = proof.header, proof.certificate
    ns_id = genesis.registry.id_of(proof.namespace)
    if ns_id is None:
        raise ProofError(f"namespace {proof.namespace!r} is not in the genesis registry")
    if header.chain_id != genesis.chain_id:
        raise ProofError(f"proof is for chain {header.chain_id!r}, genesis is {genesis.chain_id!r}")
    if cert.batch_id != header.id or cert.height != header.height:
        raise ProofError("the commit certificate is for another batch or height")
    if cert.round < header.round:
        raise ProofError("the commit certificate is older than the batch's round")
    validators = validator_set_at(genesis, header.height, proof.slashings)
    if validators.hash != header.validator_set_hash:
        raise ProofError(
            "the validator set from genesis and the proof's slashings is not the header's "
            "(a slashing is missing or added)"
        )
    try:
        validators.verify_certificate(cert, genesis.chain_id)
    except ValueError as exc:
        raise ProofError(str(exc)) from None
    for leaf in proof.leaves:
        if not merkle.verify_in_head(
            leaf.entry.encoded, leaf.index, proof.table_size, leaf.path, header.namespaces_root
        ):
            raise ProofError(f"table entry {leaf.index} is not in the header's namespaces root")
    own = [leaf for leaf in proof.leaves if leaf.entry.ns_id == ns_id]
    if own:
        txs, repeats = _included(proof, own[0], ns_id)
        return Verified(proof.namespace, ns_id, header.height, True, txs, repeats, header)
    _absent(proof, ns_id)
    return Verified(proof.namespace, ns_id, header.height, False, (), 0, header)


def validator_set_at(genesis: Genesis, height: int, slashings: Sequence[SlashedAt]) -> ValidatorSet:
    """The set that votes at ``height``: genesis' with every slashing below it applied, each
    committed height's offenders at once (as :mod:`.replica.chainstate` does)."""
    validators = genesis.validator_set
    by_height: dict[int, list[bytes]] = {}
    last = 0
    for slashed in slashings:
        if slashed.height < last or not 1 <= slashed.height < height:
            raise ProofError("slashings out of order or not below the proof's height")
        last = slashed.height
        if not slashed.evidence.verify(genesis.chain_id):
            raise ProofError("a slashing's evidence does not verify")
        by_height.setdefault(slashed.height, []).append(slashed.evidence.offender)
    for offenders in by_height.values():
        try:
            validators = validators.punish(offenders, genesis.params.slash_fraction_ppm)
        except ValueError as exc:
            raise ProofError(f"slashing: {exc}") from None
    return validators


def _included(proof: NamespaceProof, leaf: TableLeaf, ns_id: int) -> tuple[tuple[bytes, ...], int]:
    if len(proof.leaves) != 1:
        raise ProofError("an inclusion proof carries exactly its own table entry")
    chunk_entries = []
    for group in proof.groups:
        for tx in group:
            try:
                name = tx_namespace(tx)
            except ValueError as exc:
                raise ProofError(f"a malformed transaction: {exc}") from None
            if name != proof.namespace:
                raise ProofError(f"a transaction of namespace {name!r}")
        try:
            chunk_entries.append(
                NamespaceEntry(ns_id, len(group), merkle.root([tx_id(tx) for tx in group]))
            )
        except ValueError as exc:
            raise ProofError(f"a chunk group: {exc}") from None
    entry = leaf.entry
    if entry.tx_count != sum(len(g) for g in proof.groups):
        raise ProofError("the transactions do not add up to the table entry's count")
    if table_root(tuple(chunk_entries)) != entry.root:
        raise ProofError("the transactions do not hash to the table entry's root")
    seen: set[bytes] = set()
    txs = []
    for group in proof.groups:
        for tx in group:
            txid = tx_id(tx)
            if txid not in seen:
                seen.add(txid)
                txs.append(tx)
    return tuple(txs), entry.tx_count - len(txs)


def _absent(proof: NamespaceProof, ns_id: int) -> None:
    """No entry for ``ns_id``: its sorted neighbours must be adjacent and straddle it."""
    if proof.groups:
        raise ProofError("an absence proof carries no transactions")
    leaves, size = proof.leaves, proof.table_size
    if size == 0:
        if leaves or proof.header.namespaces_root != merkle.EMPTY_COMMITMENT:
            raise ProofError("the table is not empty")
        return
    if len(leaves) == 2:
        left, right = leaves
        ok = right.index == left.index + 1 and left.entry.ns_id < ns_id < right.entry.ns_id
    elif len(leaves) == 1:
        (only,) = leaves
        ok = (only.index == 0 and ns_id < only.entry.ns_id) or (
            only.index == size - 1 and only.entry.ns_id < ns_id
        )
    else:
        ok = False
    if not ok:
        raise ProofError("the neighbours given do not show the namespace absent")
