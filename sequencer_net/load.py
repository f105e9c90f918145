"""Load generator: submit transactions at a fixed rate and measure what commits, and how fast.

Transactions go out in small chunks every tick (one request per chunk, spread round-robin over
the given nodes). One extra connection follows the commit stream; for each commit the batch's
transaction ids are fetched and matched with submission times, giving commit latency. Both the
submission loop and the final drain are bounded in time.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass

import trio

from .client import Client
from .percentiles import percentile
from .types import Tx

TICK_S = 0.01


@dataclass(frozen=True)
class LoadReport:
    submitted: int
    refused: int
    committed: int
    duration_s: float
    committed_tps: float
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    heights: int

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


async def run_load(
    addresses: list[str], rate: int, duration_s: float, size: int, drain_s: float = 10.0
) -> LoadReport:
    if rate <= 0 or duration_s <= 0 or size <= 0:
        raise ValueError("rate, duration and size must be positive")
    sent_at: dict[bytes, float] = {}
    latencies: list[float] = []
    heights = 0
    refused = 0
    last_commit = 0.0
    run_tag = os.urandom(8)
    counter = itertools.count()

    def make_tx() -> bytes:
        n = next(counter)
        payload = run_tag + n.to_bytes(8, "big")
        payload += bytes(max(0, size - len(payload)))
        return Tx("load", f"load-{n % 64}", payload).encoded

    async def follow_commits(
        client: Client, lookup: Client, task_status=trio.TASK_STATUS_IGNORED
    ) -> None:
        nonlocal heights, last_commit
        stream = client.commits()
        task_status.started()
        async for event in stream:
            heights += 1
            now = trio.current_time()
            if not event["txs"]:
                continue
            batch = await lookup.batch(event["height"])
            for txid in batch["tx_ids"] if batch else ():
                started = sent_at.pop(txid, None)
                if started is not None:
                    latencies.append((now - started) * 1000)
                    last_commit = now

    submitters = [await Client.connect(a) for a in addresses]
    watcher = await Client.connect(addresses[0])
    lookup = await Client.connect(addresses[0])
    started = trio.current_time()
    submitted = 0
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(follow_commits, watcher, lookup)
            ticks = int(duration_s / TICK_S)
            per_tick = rate * TICK_S
            owed = 0.0
            for tick in range(ticks):
                owed += per_tick
                count, owed = int(owed), owed - int(owed)
                if count:
                    txs = [make_tx() for _ in range(count)]
                    client = submitters[tick % len(submitters)]
                    submit_time = trio.current_time()
                    for txid, _error in await client.submit_encoded(txs):
                        if txid is None:
                            refused += 1
                        else:
                            sent_at[txid] = submit_time
                    submitted += count
                await trio.sleep_until(started + (tick + 1) * TICK_S)
            with trio.move_on_after(drain_s):
                while sent_at:
                    await trio.sleep(0.05)
            nursery.cancel_scope.cancel()
    finally:
        for c in [*submitters, watcher, lookup]:
            await c.aclose()
    elapsed = trio.current_time() - started
    latencies.sort()
    committed = len(latencies)
    measured = last_commit - started  # submission start to the last commit we matched
    return LoadReport(
        submitted=submitted,
        refused=refused,
        committed=committed,
        duration_s=round(elapsed, 2),
        committed_tps=round(committed / measured, 1) if measured else 0.0,
        latency_p50_ms=percentile(latencies, 0.5),
        latency_p99_ms=percentile(latencies, 0.99),
        heights=heights,
    )
