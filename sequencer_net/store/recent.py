"""The ids of recently committed transactions, in memory: the duplicate check on admission is
a dict lookup for them, not a database query.

Bounded by a count of ids. When more than ``max_ids`` wait here unindexed, the oldest heights
are handed out (down to half the bound, so the persistent index receives them in large sorted
batches, not one random insert per transaction per height); they stay here, still answering
lookups, until the index says it holds them (:meth:`RecentTxIds.forget_through`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from itertools import count, repeat

Height = tuple[int, Sequence[bytes]]


class RecentTxIds:
    def __init__(self, max_ids: int) -> None:
        if max_ids < 1:
            raise ValueError("max_ids must be at least 1")
        self.max_ids = max_ids
        self._where: dict[bytes, tuple[int, int]] = {}
        self._heights: deque[Height] = deque()  # oldest first
        self._handed = 0  # how many heights at the front were handed out for indexing
        self._unhanded_ids = 0

    def add(self, height: int, ids: Sequence[bytes]) -> list[Height]:
        """Remember a committed height's ids (heights come in increasing order; a repeated id
        keeps its latest location). Returns the heights now due for the persistent index,
        oldest first; the latest height is never among them."""
        self._where.update(zip(ids, zip(repeat(height), count()), strict=False))
        self._heights.append((height, ids))
        self._unhanded_ids += len(ids)
        due: list[Height] = []
        if self._unhanded_ids > self.max_ids:
            while self._unhanded_ids > self.max_ids // 2 and self._handed < len(self._heights) - 1:
                handed = self._heights[self._handed]
                due.append(handed)
                self._handed += 1
                self._unhanded_ids -= len(handed[1])
        return due

    def forget_through(self, height: int) -> None:
        """Drop handed-out heights up to ``height``: the persistent index holds them now."""
        while self._handed and self._heights[0][0] <= height:
            old, ids = self._heights.popleft()
            self._handed -= 1
            for txid in ids:
                if self._where.get(txid, (0, 0))[0] == old:
                    del self._where[txid]

    def get(self, txid: bytes) -> tuple[int, int] | None:
        return self._where.get(txid)

    def __len__(self) -> int:
        return len(self._where)
