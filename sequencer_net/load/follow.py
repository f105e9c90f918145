"""Matching acknowledged transactions with the commits that carry them, for commit latency.

One connection follows a node's commit stream and another fetches each batch's transaction
ids. A commit stream drops events for a slow reader, so a gap in heights is filled by
fetching the heights it skipped. Acks (from this process or a worker's) and commits may arrive
in either order; both sides are held only until matched, and unmatched commits only for
:data:`UNMATCHED_KEEP_S` (another client's transactions), so memory stays bounded.

The follower is not tied to one node: when its node's stream ends, or stays silent for
:data:`SILENT_S` (a node commits an empty batch every second or so), it moves on to the next
node that answers and resumes from the height after the last one it saw.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

import trio

from ..api_protocol import ApiError
from ..client import Client

UNMATCHED_KEEP_S = 30.0
SILENT_S = 10.0  # no commit event for this long: the followed node counts as gone
RETRY_S = 0.5  # pause after trying every node in vain


class Matcher:
    """Acks waiting for their commit and commits waiting for their ack; latencies of matches."""

    def __init__(self) -> None:
        self._acked: dict[bytes, float] = {}  # txid -> first send time
        self._committed: OrderedDict[bytes, float] = OrderedDict()  # txid -> commit time
        self.latencies_ms: list[float] = []
        self.last_commit = 0.0
        self.heights = 0
        self.followed: str | None = None  # the node whose commit stream is followed now
        self.last_height: int | None = None  # the last height matched

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
    addresses: Sequence[str], matcher: Matcher, task_status=trio.TASK_STATUS_IGNORED
) -> None:
    """Feed ``matcher`` every commit from the moment the start is reported (cancel to stop),
    from the first of ``addresses`` that answers, then from the next whenever one fails."""
    started = False
    failure = ""

    def subscribed() -> None:
        nonlocal started
        if not started:
            started = True
            task_status.started()

    while True:
        for address in addresses:
            try:
                await _follow(address, matcher, subscribed)
            except (ApiError, OSError, trio.TooSlowError) as exc:
                matcher.followed = None
                failure = str(exc) or f"{address} fell silent for {SILENT_S:g} s"
        if not started:
            raise ApiError(f"no node answers a commit subscription (last: {failure})")
        await trio.sleep(RETRY_S)


async def _follow(address: str, matcher: Matcher, subscribed: Callable[[], None]) -> None:
    """Follow one node until its stream fails (ApiError, OSError) or falls silent
    (TooSlowError), from the height after ``matcher.last_height``."""
    with trio.fail_after(SILENT_S):
        watcher = await Client.connect(address)
    async with watcher, await Client.connect(address) as lookup:
        with trio.fail_after(SILENT_S):
            events = await watcher.subscribe_commits(tx_ids=True)
        matcher.followed = address
        subscribed()
        while True:
            with trio.fail_after(SILENT_S):
                event = await anext(events)
            at = time.monotonic()
            height = event["height"]
            last = matcher.last_height
            first = height if last is None else last + 1
            for missed in range(first, height + 1):
                matcher.heights += 1
                if missed == height:
                    # The event lists its own batch's ids: only skipped heights are fetched.
                    matcher.commits(list(event["tx_ids"]), at)
                    continue
                with trio.fail_after(SILENT_S):
                    batch = await lookup.batch(missed)
                matcher.commits(list(batch["tx_ids"]) if batch else [], at)
                matcher.last_height = missed
            matcher.last_height = max(height, last or 0)
