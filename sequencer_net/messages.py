"""Messages validators exchange. Everything on the wire is one of :data:`Message`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from . import codec
from .types import Batch, Certificate, Evidence, Proposal, Vote

MAX_TXS_PER_GOSSIP = 10_000
MAX_SYNC_ENTRIES = 64


@codec.register(20)
@dataclass(frozen=True)
class ProposalMessage:
    proposal: Proposal
    batch: Batch


@codec.register(21)
@dataclass(frozen=True)
class TxGossip:
    """Encoded transactions relayed to make the mempool public."""

    txs: Annotated[tuple[bytes, ...], codec.MaxLen(MAX_TXS_PER_GOSSIP)]

    def __post_init__(self) -> None:
        if len(self.txs) > MAX_TXS_PER_GOSSIP:
            raise ValueError(f"at most {MAX_TXS_PER_GOSSIP} transactions per gossip message")


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
    """A batch with the certificate that proves its commit."""

    batch: Batch
    certificate: Certificate

    @property
    def height(self) -> int:
        return self.batch.header.height


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


Message = (
    ProposalMessage | Vote | TxGossip | SyncRequest | SyncResponse | EvidenceGossip | ProposalEcho
)


def encode_message(message: Message) -> bytes:
    return codec.encode(message)


def decode_message(data: bytes) -> Message:
    """Decode a peer's message; raises :class:`~sequencer_net.codec.DecodeError` on bad input."""
    return codec.decode(data, Message)
