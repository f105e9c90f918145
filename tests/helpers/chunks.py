"""Data-path factories: chunks, certificates of really signed acks, and the committed batch
that orders a list of chunks; shared by the unit tests that build batches by hand."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sequencer_net import merkle
from sequencer_net.chunks import sign_ack
from sequencer_net.crypto import PrivateKey
from sequencer_net.messages import CommittedBatch, SignedChunk, sign_chunk
from sequencer_net.namespaces import Registry, batch_root, table_of
from sequencer_net.types import (
    Batch,
    BatchHeader,
    Certificate,
    Chunk,
    ChunkCertificate,
    CommitSig,
    NamespaceEntry,
    chunks_digest,
    evidence_digest,
)


def chunk(author: PrivateKey | bytes, txs: Sequence[bytes], seq: int = 0) -> Chunk:
    key = author.public_key if isinstance(author, PrivateKey) else author
    return Chunk(key, seq, tuple(txs))


def signed(chunk: Chunk, author: PrivateKey, chain_id: str) -> SignedChunk:
    """``chunk`` as the message its author streams (signed by ``author``, who may lie)."""
    return sign_chunk(author, chain_id, chunk)


def certificate(
    chunk: Chunk,
    signers: Iterable[PrivateKey] = (),
    chain_id: str = "",
    registry: Registry | None = None,
) -> ChunkCertificate:
    """``chunk``'s certificate with one real ack per signer, in the order given (repeats kept:
    a test may want a duplicate signer). No signers: a certificate for shapes only."""
    try:
        table = table_of(chunk, registry)
    except ValueError:  # not transactions (a shapes-only chunk): one entry covers them
        table = (NamespaceEntry(0, len(chunk.txs), merkle.root(chunk.tx_ids)),)
    sigs = []
    for key in signers:
        ack = sign_ack(key, chain_id, chunk, table)
        sigs.append(CommitSig(ack.validator, ack.signature))
    return ChunkCertificate(
        chunk.digest, chunk.author, len(chunk.txs), chunk.size_bytes, tuple(sigs), table
    )


def committed_batch(
    chain_id: str,
    height: int,
    chunks: Sequence[Chunk],
    *,
    round: int = 0,
    proposer: bytes = b"\x01" * 32,
    timestamp_ms: int | None = None,
) -> CommittedBatch:
    """A committed batch ordering ``chunks``, with the chunks attached; its certificates and
    commit signatures are fake (a store does not verify them)."""
    certs = tuple(certificate(c) for c in chunks)
    header = BatchHeader(
        namespaces_root=batch_root(certs),
        chain_id=chain_id,
        height=height,
        round=round,
        parent_id=bytes(32),
        proposer=proposer,
        timestamp_ms=1_000 * height if timestamp_ms is None else timestamp_ms,
        chunks_digest=chunks_digest(certs),
        evidence_digest=evidence_digest(()),
        validator_set_hash=b"\x02" * 32,
    )
    batch = Batch(header, certs, ())
    signatures = (CommitSig(b"\x03" * 32, b"\x04" * 64), CommitSig(b"\x05" * 32, b"\x06" * 64))
    return CommittedBatch(batch, Certificate(height, round, batch.id, signatures), tuple(chunks))
