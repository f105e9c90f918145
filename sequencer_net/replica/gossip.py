"""Transaction gossip (client transactions sent on in batches) and the periodic rebroadcast
of this node's own messages, which the paper's gossip assumption needs after GST."""

from __future__ import annotations

from collections.abc import Iterable

from ..mempool import Mempool
from ..messages import MAX_TXS_PER_GOSSIP, EvidenceGossip, Message, TxGossip
from ..types import Evidence, Vote, tx_id
from .outputs import GOSSIP, Output, Send, SetTimer


class Gossip:
    def __init__(self, mempool: Mempool, interval_ms: int, outputs: list[Output]) -> None:
        self._mempool = mempool
        self._interval_ms = interval_ms
        self._outputs = outputs
        self._queue: list[bytes] = []
        self._own: list[Message] = []  # what we signed at this height

    def queue(self, encoded_tx: bytes) -> None:
        """Send a client's transaction on with the others of the next gossip tick."""
        if not self._queue:
            self._outputs.append(SetTimer(GOSSIP, self._interval_ms))
        self._queue.append(encoded_tx)

    def flush(self, now_ms: int) -> None:
        queued, self._queue = self._queue, []
        self._mempool.mark_shared(map(tx_id, queued), now_ms)  # forced inclusion
        for i in range(0, len(queued), MAX_TXS_PER_GOSSIP):
            self._outputs.append(Send(None, TxGossip(tuple(queued[i : i + MAX_TXS_PER_GOSSIP]))))

    def broadcast_own(self, message: Message) -> None:
        self._own.append(message)
        self._outputs.append(Send(None, message))

    def new_height(self) -> None:
        self._own = []

    def rebroadcast(
        self, evidence: Iterable[Evidence], overdue: list[bytes], pol: Iterable[Vote]
    ) -> None:
        """Resend our own messages of this height, pending evidence, a few ``overdue``
        transactions (a proposer may have missed them) and the prevotes ``pol`` that justify
        our valid value: messages lost before the network stabilised must still arrive, and a
        lock we took must become provable to the others."""
        self._outputs.extend(Send(None, m) for m in self._own)
        self._outputs.extend(Send(None, EvidenceGossip(e)) for e in evidence)
        if overdue:
            self._outputs.append(Send(None, TxGossip(tuple(overdue))))
        self._outputs.extend(Send(None, vote) for vote in pol)
