"""Group commit of acknowledged transactions: a client's ``submit`` is answered only once its
transactions are on disk, so an acknowledgement survives a ``kill -9`` of the node that gave it.

Every submission that arrives while one write is under way joins the next write: one SQLite
transaction (one fsync) per flush, not one per transaction. The write runs on a worker thread,
so the event loop keeps receiving, voting and committing while the disk syncs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import trio

T = TypeVar("T")


class GroupCommit(Generic[T]):
    def __init__(self, write: Callable[[Sequence[T]], None]) -> None:
        """``write`` must be safe to call from one worker thread at a time."""
        self._write = write
        self._queued: list[T] = []
        self._wake = trio.Event()
        self._flushed = trio.Event()  # set when the write after the one in flight ends
        self._in_flight: trio.Event | None = None  # set when the write in flight ends
        self.writes = 0  # flushes so far, one fsync each

    def add(self, item: T) -> None:
        self._queued.append(item)
        self._wake.set()

    async def durable(self) -> None:
        """Return once everything added so far is written."""
        if self._queued:
            await self._flushed.wait()
        elif self._in_flight is not None:
            await self._in_flight.wait()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            batch, self._queued = self._queued, []
            in_flight = self._in_flight = self._flushed
            self._flushed = trio.Event()
            # Requests that arrived during the last write are all in this one.
            await trio.to_thread.run_sync(self._write, batch)
            self.writes += 1
            in_flight.set()
            self._in_flight = None
