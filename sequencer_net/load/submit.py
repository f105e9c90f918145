"""The open-loop submitters of one process: several connections per node, each sending one
bulk request per interval on a fixed schedule, whatever the answers take.

A submitter that falls behind (its last request took longer than an interval) sends what is
owed at once, so the offered rate holds while the requests fit; what it really offered is
counted, not assumed. Transactions a node answers "busy" are sent again after a pause, until
the drain deadline; the rest are never sent twice. While a node is busy its submitters hold
new transactions back too (see :class:`Backoff`): backpressure is obeyed, so the rate really
offered can fall below the one asked for, and the report shows both.

A node that stops answering (its connection fails, or a request gets no answer within
:data:`REQUEST_TIMEOUT_S`) ends the submitters sending to it: what they had sent it without an
answer, or still held for it, counts as ``unanswered``, and the rest of the run goes on with the
live nodes.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from ..api_protocol import ApiError
from ..client import Client
from .plan import MAX_TXS_PER_REQUEST, LoadPlan, TxSource

BUSY_BACKOFF_S = 0.05  # the first pause after a busy answer; doubled while busy lasts
MAX_BACKOFF_S = 1.0
MIN_PROBE = 50  # transactions sent to a node that was busy, at least
REQUEST_TIMEOUT_S = 10.0  # a submit unanswered this long: its node counts as gone

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
    unanswered: int = 0  # sent to (or held for) a node that stopped answering: no verdict
    requests: int = 0
    last_offer: float = 0.0  # monotonic time of the last first send
    gone: list[str] = field(default_factory=list)  # addresses that stopped answering

    def add(self, other: Tally) -> None:
        for name in ("offered", "acked", "refused", "busy", "gave_up", "unanswered", "requests"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.last_offer = max(self.last_offer, other.last_offer)
        self.gone = sorted(set(self.gone) | set(other.gone))


class NodeGone(Exception):
    """A submit to a node failed or got no answer in time."""


async def submit_all(plan: LoadPlan, source: TxSource, start: float, on_acks: AckSink) -> Tally:
    """Run every submitter of ``plan`` from monotonic time ``start`` (a moment when the
    transactions are made and the connections open) until its load and retries are done."""
    count = len(plan.addresses) * plan.submitters
    clients = [await _connect(a) for a in plan.addresses for _ in range(plan.submitters)]
    tallies = [Tally() for _ in clients]
    try:
        async with trio.open_nursery() as nursery:
            whole = int(plan.rate * plan.duration_s)  # split so that the parts add up to it
            for index, client in enumerate(clients):
                if isinstance(client, str):  # not reachable: its share is not offered
                    tallies[index].gone = [client]
                    continue
                phase = plan.interval_s * index / count
                share = whole * (index + 1) // count - whole * index // count
                nursery.start_soon(
                    _submitter, plan, share, client, source, start + phase, on_acks, tallies[index]
                )
    finally:
        for client in clients:
            if not isinstance(client, str):
                await client.aclose()
    total = Tally()
    for tally in tallies:
        total.add(tally)
    return total


async def _connect(address: str) -> Client | str:
    """A connection to ``address``, or the address itself when it does not answer."""
    with trio.move_on_after(REQUEST_TIMEOUT_S):
        try:
            return await Client.connect(address)
        except ApiError:
            pass
    return address


async def _submitter(
    plan: LoadPlan,
    total: int,
    client: Client,
    source: TxSource,
    start: float,
    on_acks: AckSink,
    tally: Tally,
) -> None:
    end, give_up_at = start + plan.duration_s, start + plan.duration_s + plan.drain_s
    retries: deque[tuple[bytes, float]] = deque()  # (encoded tx, first send), oldest first
    backoff = Backoff()
    while True:
        now = time.monotonic()
        if now >= backoff.until:
            room = backoff.room
            again = [retries.popleft() for _ in range(min(room, len(retries)))]
            owed = int(total * min(1.0, (now - start) / plan.duration_s)) - tally.offered
            fresh = source.take(max(0, min(owed, room - len(again))))
            if fresh:
                tally.offered += len(fresh)
                tally.last_offer = now
            work = again + [(tx, now) for tx in fresh]
            for at in range(0, len(work), MAX_TXS_PER_REQUEST):
                part = work[at : at + MAX_TXS_PER_REQUEST]
                try:
                    taken, busy = await _send(client, part, retries, on_acks, tally)
                except NodeGone:
                    tally.unanswered += len(work) - at + len(retries)
                    tally.gone = [client.address]
                    return
                backoff.answered(taken, busy, time.monotonic())
        if now >= end and not retries and tally.offered >= total:
            return
        if now >= give_up_at:
            tally.gave_up += len(retries)
            return
        # The next point of the fixed grid: a late request shifts nothing after it.
        now = time.monotonic()
        slot = math.floor((now - start) / plan.interval_s) + 1
        await trio.sleep(max(0.0, start + slot * plan.interval_s - now, backoff.until - now))


@dataclass
class Backoff:
    """After a busy answer, pause, and then send only about twice what the node took last
    time, so a full node is probed rather than flooded with transactions it must refuse. The
    pause doubles (up to a second) while the node takes nothing at all; the first answer
    without busy lifts both limits."""

    pause: float = 0.0
    until: float = 0.0
    room: int = MAX_TXS_PER_REQUEST * 16

    def answered(self, taken: int, busy: int, now: float) -> None:
        if busy:
            doubled = min(max(2 * self.pause, BUSY_BACKOFF_S), MAX_BACKOFF_S)
            self.pause = doubled if taken == 0 else BUSY_BACKOFF_S
            self.until = now + self.pause
            self.room = max(MIN_PROBE, 2 * taken)
        else:
            self.pause, self.room = 0.0, MAX_TXS_PER_REQUEST * 16


async def _send(
    client: Client,
    work: list[tuple[bytes, float]],
    retries: deque[tuple[bytes, float]],
    on_acks: AckSink,
    tally: Tally,
) -> tuple[int, int]:
    """One request; busy transactions join ``retries``. Returns (taken, busy). Raises
    NodeGone when the node does not answer."""
    results = None
    with trio.move_on_after(REQUEST_TIMEOUT_S):
        with contextlib.suppress(ApiError):
            results = await client.submit_encoded([tx for tx, _ in work])
    tally.requests += 1
    if results is None:
        raise NodeGone(client.address)
    acks = []
    busy = 0
    for (tx, first), result in zip(work, results, strict=True):
        if result.txid is not None:
            acks.append((result.txid, first))
        elif result.busy:
            busy += 1
            retries.append((tx, first))
        else:
            tally.refused += 1
    tally.acked += len(acks)
    tally.busy += busy
    on_acks(acks)
    return len(acks), busy
