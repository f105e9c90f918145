"""Building this node's batch for a round on top of the chain it holds."""

from __future__ import annotations

from ..namespaces import batch_root
from ..types import Batch, BatchHeader, ChunkCertificate, Evidence, chunks_digest, evidence_digest
from .validity import GENESIS_PARENT, ChainView


def build_batch(
    view: ChainView,
    round: int,
    proposer: bytes,
    now_ms: int,
    chunks: tuple[ChunkCertificate, ...],
    evidence: tuple[Evidence, ...],
) -> Batch:
    """A batch for ``view.height``: its timestamp is ``now_ms`` but always after the parent's."""
    parent = view.parent
    header = BatchHeader(
        chain_id=view.chain_id,
        height=view.height,
        round=round,
        parent_id=parent.batch.id if parent else GENESIS_PARENT,
        proposer=proposer,
        timestamp_ms=max(now_ms, parent.batch.header.timestamp_ms + 1 if parent else 0),
        chunks_digest=chunks_digest(chunks),
        evidence_digest=evidence_digest(evidence),
        validator_set_hash=view.validators.hash,
        last_commit=parent.certificate if parent else None,
        namespaces_root=batch_root(chunks),
    )
    return Batch(header, chunks, evidence)
