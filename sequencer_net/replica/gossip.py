"""The periodic rebroadcast of this node's own messages, which the paper's gossip assumption
needs after GST. Transactions are not gossiped: they travel in chunks (:mod:`.lanes`)."""

from __future__ import annotations

from collections.abc import Iterable

from ..messages import EvidenceGossip, Message
from ..types import ChunkCertificate, Evidence, Vote
from .outputs import Output, Send


class Gossip:
    def __init__(self, outputs: list[Output]) -> None:
        self._outputs = outputs
        self._own: list[Message] = []  # what we signed at this height

    def broadcast_own(self, message: Message) -> None:
        self._own.append(message)
        self._outputs.append(Send(None, message))

    def new_height(self) -> None:
        self._own = []

    def rebroadcast(
        self,
        evidence: Iterable[Evidence],
        overdue: Iterable[ChunkCertificate],
        pol: Iterable[Vote],
    ) -> None:
        """Resend our own messages of this height, pending evidence, a few ``overdue`` chunk
        certificates (a proposer may have missed them) and the prevotes ``pol`` that justify
        our valid value: messages lost before the network stabilised must still arrive, and a
        lock we took must become provable to the others."""
        self._outputs.extend(Send(None, m) for m in self._own)
        self._outputs.extend(Send(None, EvidenceGossip(e)) for e in evidence)
        self._outputs.extend(Send(None, cert) for cert in overdue)
        self._outputs.extend(Send(None, vote) for vote in pol)
