"""Messages validators exchange. Everything on the wire is one of :data:`Message`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated

from . import codec
from .crypto import DIGEST_SIZE, PrivateKey, verify
from .threshold.wire import DecryptionShares, SharesRequest
from .types import (
    MAX_BATCH_CHUNKS,
    Batch,
    Certificate,
    Chunk,
    ChunkAck,
    ChunkCertificate,
    Evidence,
    Proposal,
    Vote,
)

MAX_SYNC_ENTRIES = 64
MAX_SYNC_BYTES = 8 * 1024 * 1024  # of transactions per sync response, within one frame
MAX_CHUNKS_PER_FETCH = 8  # so a response of whole chunks fits a frame
CHUNK_KIND = "chunk"
# Wire tag 21 was TxGossip: transactions now travel in chunks. Tags are never reused.


@codec.register(20)
@dataclass(frozen=True)
class ProposalMessage:
    proposal: Proposal
    batch: Batch


@codec.register(22)
@dataclass(frozen=True)
class SyncRequest:
    """Ask a peer for committed batches from ``from_height`` on."""

    from_height: int

    def __post_init__(self) -> None:
        if self.from_height < 1:
            raise ValueError("from_height must be >= 1")


@codec.register(23)
@dataclass(frozen=True)
class CommittedBatch:
    """A batch with the certificate that proves its commit and the chunks it orders, in its
    order: what a node stores and what catch-up sends."""

    batch: Batch
    certificate: Certificate
    chunks: Annotated[tuple[Chunk, ...], codec.MaxLen(MAX_BATCH_CHUNKS)] = ()

    @property
    def height(self) -> int:
        return self.batch.header.height

    @property
    def chunks_match(self) -> bool:
        """The chunks are exactly the ones the batch's certificates name, in order."""
        return tuple(c.digest for c in self.chunks) == self.batch.chunk_digests

    @cached_property
    def txs(self) -> tuple[bytes, ...]:
        """The committed order: chunks in batch order, transactions in chunk order; a
        transaction carried twice in one batch (a client sent it to two validators) counts
        once, first, and one an earlier height committed not at all (see
        :meth:`without_repeats`): every transaction commits exactly once."""
        return tuple(self._by_id.values())

    @cached_property
    def tx_ids(self) -> tuple[bytes, ...]:
        return tuple(self._by_id)

    def without_repeats(self, committed: Callable[[Sequence[bytes]], set[bytes]]) -> CommittedBatch:
        """This entry with the transactions ``committed`` names (an earlier height holds them)
        left out of :attr:`txs`. A chunk may carry a transaction a height already committed:
        its author re-chunked what it had acknowledged before a crash, not knowing another
        chunk of its had made it. The chunks stay whole (their certificates name them); every
        node holds the same chain below, so every node leaves out the same ones. A bundle
        chunk with such a transaction is left out whole: a bundle commits entirely or not at
        all, so its other transactions may take their place in a later chunk of the batch."""
        ids = list(self._by_id)
        if any(chunk.bundle for chunk in self.chunks):  # a bundle left out may place others
            ids = list(dict.fromkeys(t for chunk in self.chunks for t in chunk.tx_ids))
        repeats = committed(ids)
        if not repeats:
            return self
        dropped: set[bytes] = set()
        by_id, bundles = self._placement(dropped)
        while hit := {c.digest for c in bundles if not repeats.isdisjoint(c.tx_ids)}:
            dropped |= hit  # each turn drops at least one more bundle: it ends
            by_id, bundles = self._placement(dropped)
        return self._with({t: tx for t, tx in by_id.items() if t not in repeats})

    def restricted_to(self, tx_ids: Sequence[bytes]) -> CommittedBatch:
        """This entry committing just ``tx_ids`` (the ids a store recorded for its height,
        repeats already left out), in that order."""
        by_id = self._by_id
        if len(tx_ids) == len(by_id):
            return self
        try:
            return self._with({txid: by_id[txid] for txid in tx_ids})
        except KeyError:
            raise ValueError("an id the entry's chunks do not carry") from None

    def _with(self, by_id: dict[bytes, bytes]) -> CommittedBatch:
        entry = CommittedBatch(self.batch, self.certificate, self.chunks)
        entry.__dict__["_by_id"] = by_id  # where the cached property below keeps its value
        return entry

    @cached_property
    def _by_id(self) -> dict[bytes, bytes]:
        """id -> encoded transaction in committed order, from ids each chunk hashed once (a
        repeat has the same id and bytes, so it keeps its first place; a bundle chunk that
        carries a transaction already placed is left out whole)."""
        return self._placement(set())[0]

    def _placement(self, dropped: set[bytes]) -> tuple[dict[bytes, bytes], list[Chunk]]:
        """The committed order with the bundle chunks ``dropped`` (digests) left out, and the
        bundle chunks it commits."""
        by_id: dict[bytes, bytes] = {}
        bundles = []
        for chunk in self.chunks:
            if chunk.bundle:
                if chunk.digest in dropped or not by_id.keys().isdisjoint(chunk.tx_ids):
                    continue
                bundles.append(chunk)
            by_id.update(zip(chunk.tx_ids, chunk.txs, strict=True))
        return by_id, bundles


@codec.register(24)
@dataclass(frozen=True)
class SyncResponse:
    entries: Annotated[tuple[CommittedBatch, ...], codec.MaxLen(MAX_SYNC_ENTRIES)]

    def __post_init__(self) -> None:
        if len(self.entries) > MAX_SYNC_ENTRIES:
            raise ValueError(f"at most {MAX_SYNC_ENTRIES} entries per sync response")


@codec.register(25)
@dataclass(frozen=True)
class EvidenceGossip:
    evidence: Evidence


@codec.register(26)
@dataclass(frozen=True)
class ProposalEcho:
    """A proposal we hold, without its batch, sent when a prevote names another value for the
    same round: whoever holds the other proposal can then prove the proposer equivocated."""

    proposal: Proposal


@codec.register(29)
@dataclass(frozen=True)
class SignedChunk:
    """A chunk as its author streams it: signed, so no one can fill a receiver's share for
    that author with chunks the author never made."""

    chunk: Chunk
    signature: bytes

    def verify(self, chain_id: str) -> bool:
        return verify(self.chunk.author, chain_id, CHUNK_KIND, self.chunk.digest, self.signature)


def sign_chunk(key: PrivateKey, chain_id: str, chunk: Chunk) -> SignedChunk:
    return SignedChunk(chunk, key.sign(chain_id, CHUNK_KIND, chunk.digest))


@codec.register(27)
@dataclass(frozen=True)
class ChunkRequest:
    """Ask for chunks a committed batch orders that this node does not hold."""

    digests: Annotated[tuple[bytes, ...], codec.MaxLen(MAX_CHUNKS_PER_FETCH)]

    def __post_init__(self) -> None:
        if not 0 < len(self.digests) <= MAX_CHUNKS_PER_FETCH:
            raise ValueError(f"a chunk request names 1..{MAX_CHUNKS_PER_FETCH} digests")
        if any(len(d) != DIGEST_SIZE for d in self.digests):
            raise ValueError(f"chunk digests are {DIGEST_SIZE} bytes")


@codec.register(28)
@dataclass(frozen=True)
class ChunkResponse:
    chunks: Annotated[tuple[Chunk, ...], codec.MaxLen(MAX_CHUNKS_PER_FETCH)]


Message = (
    ProposalMessage
    | Vote
    | SignedChunk
    | ChunkAck
    | ChunkCertificate
    | ChunkRequest
    | ChunkResponse
    | SyncRequest
    | SyncResponse
    | EvidenceGossip
    | ProposalEcho
    | DecryptionShares
    | SharesRequest
)


def encode_message(message: Message) -> bytes:
    return codec.encode(message)


def decode_message(data: bytes) -> Message:
    """Decode a peer's message; raises :class:`~sequencer_net.codec.DecodeError` on bad input."""
    return codec.decode(data, Message)
