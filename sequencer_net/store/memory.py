"""In-memory stores for the simulator and tests."""

from __future__ import annotations

from ..messages import CommittedBatch
from ..signstate import SignRecord
from ..types import tx_id


class MemoryChainStore:
    def __init__(self) -> None:
        self._entries: list[CommittedBatch] = []
        self._tx_index: dict[bytes, tuple[int, int]] = {}

    def last_height(self) -> int:
        return len(self._entries)

    def get(self, height: int) -> CommittedBatch | None:
        return self._entries[height - 1] if 1 <= height <= len(self._entries) else None

    def append(self, entry: CommittedBatch) -> None:
        if entry.height != len(self._entries) + 1:
            raise ValueError(f"expected height {len(self._entries) + 1}, got {entry.height}")
        self._entries.append(entry)
        for position, encoded in enumerate(entry.batch.txs):
            self._tx_index[tx_id(encoded)] = (entry.height, position)

    def tx_location(self, txid: bytes) -> tuple[int, int] | None:
        return self._tx_index.get(txid)


class MemorySignStateStore:
    def __init__(self) -> None:
        self._record: SignRecord | None = None

    def load(self) -> SignRecord | None:
        return self._record

    def save(self, record: SignRecord) -> None:
        self._record = record
