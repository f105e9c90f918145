"""The public mempool: deduplicated, bounded, oldest first.

Each transaction remembers when this node first saw it (height and milliseconds), which is what
forced inclusion and inclusion-delay metrics are measured from, and when the other nodes could
first have had it (``shared_ms``): on arrival for gossip, but only once this node has gossiped
it for a client's transaction, whose gossip may leave late on a busy node.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from .types import tx_id


@dataclass(frozen=True)
class PendingTx:
    encoded: bytes
    first_seen_height: int
    first_seen_ms: int
    shared_ms: int | None  # None: a client's transaction this node has not gossiped yet


class Mempool:
    def __init__(self, max_txs: int = 100_000, max_bytes: int = 64 * 1024 * 1024) -> None:
        if max_txs <= 0 or max_bytes <= 0:
            raise ValueError("mempool limits must be positive")
        self.max_txs = max_txs
        self.max_bytes = max_bytes
        self._pending: dict[bytes, PendingTx] = {}  # insertion order is arrival order
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, txid: object) -> bool:
        return txid in self._pending

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def add(self, encoded: bytes, height: int, now_ms: int, shared: bool = True) -> bytes | None:
        """Admit a transaction; returns its id, or None if already held or the pool is full.
        ``shared = False`` for a client's transaction, until :meth:`mark_shared`."""
        txid = tx_id(encoded)
        if txid in self._pending:
            return None
        if len(self._pending) >= self.max_txs or self._bytes + len(encoded) > self.max_bytes:
            return None
        self._pending[txid] = PendingTx(encoded, height, now_ms, now_ms if shared else None)
        self._bytes += len(encoded)
        return txid

    def select(
        self, max_txs: int, max_bytes: int, omit: Callable[[bytes], bool] | None = None
    ) -> list[bytes]:
        """The oldest transactions that fit the limits, in arrival order, leaving out those
        ``omit`` picks (a censoring fault's hook; honest nodes pass None)."""
        chosen: list[bytes] = []
        size = 0
        for pending in self._pending.values():
            if len(chosen) >= max_txs:
                break
            if size + len(pending.encoded) > max_bytes:
                continue
            if omit is not None and omit(pending.encoded):
                continue
            chosen.append(pending.encoded)
            size += len(pending.encoded)
        return chosen

    def held_since(self, height: int) -> list[tuple[bytes, PendingTx]]:
        """(id, tx) first seen at ``height`` or earlier, oldest first: a prefix of the pool,
        since arrival order is also first-seen order."""
        held = []
        for txid, pending in self._pending.items():
            if pending.first_seen_height > height:
                break
            held.append((txid, pending))
        return held

    def mark_shared(self, txids: Iterable[bytes], now_ms: int) -> None:
        """The transactions went out to the peers now (kept in place: order is arrival)."""
        for txid in txids:
            pending = self._pending.get(txid)
            if pending is not None and pending.shared_ms is None:
                self._pending[txid] = replace(pending, shared_ms=now_ms)

    def remove(self, txids: Iterable[bytes]) -> None:
        for txid in txids:
            pending = self._pending.pop(txid, None)
            if pending is not None:
                self._bytes -= len(pending.encoded)

    def get(self, txid: bytes) -> PendingTx | None:
        return self._pending.get(txid)
