"""The ids of recently committed transactions, in memory: the duplicate check on admission is
a dict lookup for them, not a database query.

Bounded by a count of ids. When more than ``max_ids`` wait here unindexed, the oldest heights
are handed out (down to half the bound, so the persistent index receives them in large sorted
batches, not one random insert per transaction per height); they stay here, still answering
lookups, until the index says it holds them (:meth:`RecentTxIds.forget_through`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

Height = tuple[int, Sequence[bytes]]


class RecentTxIds:
    def __init__(self, max_ids: int) -> None:
        if max_ids < 1:
            raise ValueError("max_ids must be at least 1")
        self.max_ids = max_ids
        # id -> its latest height only (one C call per height to fill); a position is looked
        # up in that height's ids when asked for, which only a status query does.
        self._where: dict[bytes, int] = {}
        self._ids_of: dict[int, Sequence[bytes]] = {}
        self._heights: deque[int] = deque()  # oldest first
        self._handed = 0  # how many heights at the front were handed out for indexing
        self._unhanded_ids = 0

    def add(self, height: int, ids: Sequence[bytes]) -> list[Height]:
        """Remember a committed height's ids (heights come in increasing order; a repeated id
        keeps its latest location). Returns the heights now due for the persistent index,
        oldest first; the latest height is never among them."""
        self._where.update(dict.fromkeys(ids, height))
        self._ids_of[height] = ids
        self._heights.append(height)
        self._unhanded_ids += len(ids)
        due: list[Height] = []
        if self._unhanded_ids > self.max_ids:
            while self._unhanded_ids > self.max_ids // 2 and self._handed < len(self._heights) - 1:
                handed = self._heights[self._handed]
                due.append((handed, self._ids_of[handed]))
                self._handed += 1
                self._unhanded_ids -= len(self._ids_of[handed])
        return due

    def forget_through(self, height: int) -> None:
        """Drop handed-out heights up to ``height``: the persistent index holds them now."""
        where = self._where
        while self._handed and self._heights[0] <= height:
            old = self._heights.popleft()
            self._handed -= 1
            for txid in self._ids_of.pop(old):
                if where.get(txid) == old:
                    del where[txid]

    def get(self, txid: bytes) -> tuple[int, int] | None:
        height = self._where.get(txid)
        if height is None:
            return None
        return height, self._ids_of[height].index(txid)

    def among(self, txids: Iterable[bytes]) -> set[bytes]:
        """Those of ``txids`` held here, in one set operation."""
        return self._where.keys() & set(txids)

    def __contains__(self, txid: bytes) -> bool:
        return txid in self._where

    def __len__(self) -> int:
        return len(self._where)
