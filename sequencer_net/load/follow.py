"""Matching acknowledged transactions with the commits that carry them, for commit latency.

One connection follows a node's commit stream and another fetches each batch's transaction
ids. A commit stream drops events for a slow reader, so a gap in heights is filled by
fetching the heights it skipped. Acks (from this process or a worker's) and commits may arrive
in either order; both sides are held only until matched, and unmatched commits only for
:data:`UNMATCHED_KEEP_S` (another client's transactions), so memory stays bounded.
"""

from __future__ import annotations

import time
from collections import OrderedDict

import trio

from ..client import Client

UNMATCHED_KEEP_S = 30.0


class Matcher:
    """Acks waiting for their commit and commits waiting for their ack; latencies of matches."""

    def __init__(self) -> None:
        self._acked: dict[bytes, float] = {}  # txid -> first send time
        self._committed: OrderedDict[bytes, float] = OrderedDict()  # txid -> commit time
        self.latencies_ms: list[float] = []
        self.last_commit = 0.0
        self.heights = 0

    @property
    def waiting(self) -> int:
        """Acknowledged transactions not seen committed yet."""
        return len(self._acked)

    def acks(self, acks: list[tuple[bytes, float]]) -> None:
        for txid, sent in acks:
            committed = self._committed.pop(txid, None)
            if committed is None:
                self._acked[txid] = sent
            else:
                self._match(sent, committed)

    def commits(self, txids: list[bytes], at: float) -> None:
        for txid in txids:
            sent = self._acked.pop(txid, None)
            if sent is None:
                self._committed[txid] = at
            else:
                self._match(sent, at)
        while self._committed and next(iter(self._committed.values())) < at - UNMATCHED_KEEP_S:
            self._committed.popitem(last=False)

    def _match(self, sent: float, committed: float) -> None:
        self.latencies_ms.append(max(0.0, committed - sent) * 1000)
        self.last_commit = max(self.last_commit, committed)


async def follow_commits(
    address: str, matcher: Matcher, task_status=trio.TASK_STATUS_IGNORED
) -> None:
    """Feed ``matcher`` every commit from the moment the start is reported (cancel to stop)."""
    async with await Client.connect(address) as watcher, await Client.connect(address) as lookup:
        events = await watcher.subscribe_commits()
        task_status.started()
        last: int | None = None
        async for event in events:
            at = time.monotonic()
            height = event["height"]
            first = height if last is None else last + 1
            for missed in range(first, height + 1):
                matcher.heights += 1
                if missed == height and not event["txs"]:
                    continue
                batch = await lookup.batch(missed)
                matcher.commits(list(batch["tx_ids"]) if batch else [], at)
            last = max(height, last or 0)
