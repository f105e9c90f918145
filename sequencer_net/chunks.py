"""Signing and checking the data path's acks and certificates (the types are in ``types``).

Dissemination is separate from ordering (Narwhal; HotStuff's mempool): every validator packs
its clients' transactions into chunks of its own lane and streams them to every peer; a peer
that stores a chunk signs an availability ack on its digest, and acks from more than a third of
the stake form a :class:`ChunkCertificate`: at least one honest validator holds the data, so
consensus can order the 32-byte digest alone. A signer acks only a chunk whose transactions
all decode, so a certified chunk is well formed without anyone decoding it again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .crypto import PrivateKey, verify
from .types import (
    ACK_KIND,
    Chunk,
    ChunkAck,
    ChunkCertificate,
    CommitSig,
    NamespaceEntry,
    ack_payload,
    table_root,
)

if TYPE_CHECKING:
    from .validators import ValidatorSet


def sign_ack(
    key: PrivateKey, chain_id: str, chunk: Chunk, table: tuple[NamespaceEntry, ...]
) -> ChunkAck:
    """Ack ``chunk`` whose namespace table (computed from its data) is ``table``."""
    count, size, root = len(chunk.txs), chunk.size_bytes, table_root(table)
    payload = ack_payload(chunk.digest, chunk.author, count, size, root)
    signature = key.sign(chain_id, ACK_KIND, payload)
    return ChunkAck(chunk.digest, chunk.author, count, size, root, key.public_key, signature)


def certificate_problem(
    cert: ChunkCertificate, validators: ValidatorSet, chain_id: str
) -> str | None:
    """Why ``cert`` does not prove availability under ``validators``: distinct active signers
    holding more than a third of the power, each with a valid ack signature. The stake is
    summed before any signature is checked, so a short certificate costs no verification."""
    signers = cert.signers
    if len(set(signers)) != len(signers):
        return "a validator acked twice"
    if cert.author not in validators:
        return "author is not an active validator"
    if any(key not in validators for key in signers):
        return "an ack from a key outside the active set"
    if not validators.is_third(sum(validators.power_of(key) for key in signers)):
        return "acks hold a third of the stake or less"
    payload = cert.payload
    for sig in cert.signatures:
        if not verify(sig.validator, chain_id, ACK_KIND, payload, sig.signature):
            return "an ack signature does not verify"
    return None


def certify(
    ack: ChunkAck, signatures: tuple[CommitSig, ...], table: tuple[NamespaceEntry, ...]
) -> ChunkCertificate:
    """A certificate from acks that all signed ``ack``'s payload; ``table`` is the chunk's
    namespace table, whose root they signed."""
    if table_root(table) != ack.namespaces_root:
        raise ValueError("the namespace table is not the one the acks signed")
    return ChunkCertificate(ack.digest, ack.author, ack.tx_count, ack.size_bytes, signatures, table)
