"""Group commit of acknowledged transactions: a client's ``submit`` is answered only once its
transactions are on disk, so an acknowledgement survives a ``kill -9`` of the node that gave it.

Every submission that arrives while one write is under way joins the next write: one SQLite
transaction (one fsync) per flush, not one per transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import trio


class GroupCommit:
    def __init__(self, write: Callable[[Sequence[bytes]], None]) -> None:
        self._write = write
        self._queued: list[bytes] = []
        self._wake = trio.Event()
        self._flushed = trio.Event()

    def add(self, encoded: bytes) -> None:
        self._queued.append(encoded)
        self._wake.set()

    async def durable(self) -> None:
        """Return once everything added so far is written."""
        if self._queued:
            await self._flushed.wait()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            batch, self._queued = self._queued, []
            flushed, self._flushed = self._flushed, trio.Event()
            # Requests that arrived while the last write blocked the loop are all in this one.
            self._write(batch)
            flushed.set()
            await trio.sleep(0)
