"""The replica's timers, fired by one task from a heap.

A task per timer cost a spawn, a cancel scope and a wake-up each, and a node under load sets
hundreds a second (three step timeouts a height, most of which fire into a decided height,
plus the lane's chunk ticks). Here a timer is a heap entry; one task sleeps until the earliest
and fires whatever is due, then yields, so a run of zero-delay timers (a one-node set deciding
height after height) cannot starve the rest of the node.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable
from typing import Generic, TypeVar

import trio

Owner = TypeVar("Owner")
Key = TypeVar("Key")


class TimerQueue(Generic[Owner, Key]):
    """Timers ``(owner, key)`` handed to ``fire`` once due, earliest first (ties in the order
    set). The owner lets the node tell a replacement replica's timers from the old one's."""

    def __init__(self, fire: Callable[[Owner, Key], None]) -> None:
        self._fire = fire
        self._heap: list[tuple[float, int, Owner, Key]] = []
        self._order = itertools.count()
        self._changed = trio.Event()

    def __len__(self) -> int:
        return len(self._heap)

    def set(self, owner: Owner, key: Key, delay_ms: int) -> None:
        entry = (trio.current_time() + delay_ms / 1000, next(self._order), owner, key)
        heapq.heappush(self._heap, entry)
        if self._heap[0] is entry:  # the new earliest: the sleeping task must wake sooner
            self._changed.set()

    async def run(self) -> None:
        while True:
            self._changed = trio.Event()
            now = trio.current_time()
            due = []
            while self._heap and self._heap[0][0] <= now:
                due.append(heapq.heappop(self._heap))
            for _, _, owner, key in due:
                self._fire(owner, key)
            if due:
                await trio.lowlevel.checkpoint()
                continue
            with trio.move_on_at(self._heap[0][0] if self._heap else math.inf):
                await self._changed.wait()
