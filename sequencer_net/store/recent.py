"""The ids of recently committed transactions, in memory: the duplicate check on admission is
a dict lookup for them, not a database query.

Bounded by a count of ids: when it holds more than ``max_ids``, the oldest heights are handed
back (down to half the bound, so the persistent index receives them in large sorted batches,
not one random insert per transaction per height) and forgotten here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

Height = tuple[int, Sequence[bytes]]


class RecentTxIds:
    def __init__(self, max_ids: int) -> None:
        if max_ids < 1:
            raise ValueError("max_ids must be at least 1")
        self.max_ids = max_ids
        self._where: dict[bytes, tuple[int, int]] = {}
        self._heights: deque[Height] = deque()
        self._held = 0

    def add(self, height: int, ids: Sequence[bytes]) -> list[Height]:
        """Remember a committed height's ids (heights come in increasing order; a repeated id
        keeps its latest location). Returns the heights evicted to stay within the bound,
        oldest first; the latest height is always kept."""
        for position, txid in enumerate(ids):
            self._where[txid] = (height, position)
        self._heights.append((height, ids))
        self._held += len(ids)
        evicted: list[Height] = []
        if self._held > self.max_ids:
            while self._held > self.max_ids // 2 and len(self._heights) > 1:
                old, old_ids = self._heights.popleft()
                self._held -= len(old_ids)
                for txid in old_ids:
                    if self._where.get(txid, (0, 0))[0] == old:
                        del self._where[txid]
                evicted.append((old, old_ids))
        return evicted

    def get(self, txid: bytes) -> tuple[int, int] | None:
        return self._where.get(txid)

    def __len__(self) -> int:
        return len(self._where)
