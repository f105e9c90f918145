"""The open-loop submitters of one process: several connections per node, each sending one
bulk request per interval on a fixed schedule, whatever the answers take.

A submitter that falls behind (its last request took longer than an interval) sends what is
owed at once, so the offered rate holds while the requests fit; what it really offered is
counted, not assumed. Transactions a node answers "busy" are sent again after a short pause,
until the drain deadline; the rest are never sent twice.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import trio

from ..client import Client
from .plan import MAX_TXS_PER_REQUEST, LoadPlan, TxSource

BUSY_BACKOFF_S = 0.05

# (txid, monotonic time of the transaction's first send): reported as acks arrive.
AckSink = Callable[[list[tuple[bytes, float]]], None]


@dataclass
class Tally:
    """What one process's submitters did; summed over processes for the report."""

    offered: int = 0  # distinct transactions sent at least once
    acked: int = 0
    refused: int = 0  # refused for good (not busy)
    busy: int = 0  # busy answers, each followed by a retry unless the drain ended
    gave_up: int = 0  # busy at the end: never acknowledged, so nothing was lost
    requests: int = 0
    last_offer: float = 0.0  # monotonic time of the last first send

    def add(self, other: Tally) -> None:
        for name in ("offered", "acked", "refused", "busy", "gave_up", "requests"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.last_offer = max(self.last_offer, other.last_offer)


async def submit_all(plan: LoadPlan, source: TxSource, start: float, on_acks: AckSink) -> Tally:
    """Run every submitter of ``plan`` from monotonic time ``start`` (a moment when the
    transactions are made and the connections open) until its load and retries are done."""
    count = len(plan.addresses) * plan.submitters
    clients = [await Client.connect(a) for a in plan.addresses for _ in range(plan.submitters)]
    tallies = [Tally() for _ in clients]
    try:
        async with trio.open_nursery() as nursery:
            for index, client in enumerate(clients):
                phase = plan.interval_s * index / count
                rate = plan.rate / count
                nursery.start_soon(
                    _submitter, plan, rate, client, source, start + phase, on_acks, tallies[index]
                )
    finally:
        for client in clients:
            await client.aclose()
    total = Tally()
    for tally in tallies:
        total.add(tally)
    return total


async def _submitter(
    plan: LoadPlan,
    rate: float,
    client: Client,
    source: TxSource,
    start: float,
    on_acks: AckSink,
    tally: Tally,
) -> None:
    end, give_up_at = start + plan.duration_s, start + plan.duration_s + plan.drain_s
    retries: deque[tuple[float, bytes, float]] = deque()  # (due, encoded tx, first send)
    while True:
        now = time.monotonic()
        due = min(now, end) - start
        fresh = source.take(max(0, int(rate * due) - tally.offered)) if due > 0 else []
        again: list[tuple[bytes, float]] = []
        while retries and retries[0][0] <= now:
            _, encoded, first = retries.popleft()
            again.append((encoded, first))
        if fresh:
            tally.offered += len(fresh)
            tally.last_offer = now
        work = [(tx, now) for tx in fresh] + again
        for at in range(0, len(work), MAX_TXS_PER_REQUEST):
            await _send(client, work[at : at + MAX_TXS_PER_REQUEST], retries, on_acks, tally)
        if now >= end and not retries:
            return
        if now >= give_up_at:
            tally.gave_up += len(retries)
            return
        # The next point of the fixed grid: a late request shifts nothing after it.
        now = time.monotonic()
        await trio.sleep(
            start + (math.floor((now - start) / plan.interval_s) + 1) * plan.interval_s - now
        )


async def _send(
    client: Client,
    work: list[tuple[bytes, float]],
    retries: deque[tuple[float, bytes, float]],
    on_acks: AckSink,
    tally: Tally,
) -> None:
    results = await client.submit_encoded([tx for tx, _ in work])
    tally.requests += 1
    retry_at = time.monotonic() + BUSY_BACKOFF_S
    acks = []
    for (tx, first), result in zip(work, results, strict=True):
        if result.txid is not None:
            acks.append((result.txid, first))
        elif result.busy:
            tally.busy += 1
            retries.append((retry_at, tx, first))
        else:
            tally.refused += 1
    tally.acked += len(acks)
    on_acks(acks)
