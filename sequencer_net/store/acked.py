"""Which acknowledged rows still wait for a commit, kept up to date as heights commit.

An acknowledged row (one group commit of a client's transactions and bundles) may be dropped
from disk once every entry in it committed. Checking every open row's entries against the
chain at each settle cost a lookup per entry per settle: with a full mempool (200,000 acked
and uncommitted) a node spent seconds per height in it and stopped answering. Here each entry
is checked once when its row is registered, then only the ids a height commits are looked up.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet

Entry = tuple[bytes, ...]  # a transaction's id, or every id of an atomic bundle


class OpenAcks:
    """Open rows, and for each id still to commit the (row, entry) pairs waiting on it."""

    def __init__(self) -> None:
        self._left: dict[int, int] = {}  # row -> entries of it not yet committed
        self._waiting: dict[bytes, list[tuple[int, Entry]]] = {}

    def add(self, row: int, entries: Iterable[Entry], committed: AbstractSet[bytes]) -> None:
        """Watch ``row``; ``committed`` holds those of its ids that already committed (the row
        may be written after its transactions commit)."""
        left = 0
        for entry in entries:
            if not committed.isdisjoint(entry):
                continue
            left += 1
            for txid in entry:
                self._waiting.setdefault(txid, []).append((row, entry))
        self._left[row] = left

    def committed(self, txids: Iterable[bytes]) -> None:
        """These ids committed: an entry is done when its transaction commits, and a bundle
        when any of its transactions does (it committed whole, or it never can)."""
        for txid in txids:
            for row, entry in self._waiting.pop(txid, ()):
                for other in entry:
                    if other != txid:
                        self._forget(other, row, entry)
                self._left[row] -= 1

    def settled(self) -> list[int]:
        """Rows with nothing left to commit, now no longer watched."""
        done = [row for row, left in self._left.items() if left == 0]
        for row in done:
            del self._left[row]
        return done

    def _forget(self, txid: bytes, row: int, entry: Entry) -> None:
        holders = self._waiting.get(txid)
        if holders is None:
            return
        holders.remove((row, entry))
        if not holders:
            del self._waiting[txid]
