"""Running a load plan: in this process, or split over worker processes, with one commit
follower here matching every acknowledgement with its commit."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from typing import Any

import trio

from ..api_protocol import MAX_ANSWER_FRAME, ApiError, pack, unpack
from ..net import FrameReader, NetError, send_frame
from ..percentiles import percentile
from .follow import Matcher, follow_commits
from .plan import LoadPlan, TxSource, process_cpu_s
from .report import LoadReport
from .submit import Tally, submit_all

READY_TIMEOUT_S = 120.0  # a worker making 500k transactions on a busy machine
START_MARGIN_S = 0.05


async def run_load(
    addresses: list[str],
    rate: int,
    duration_s: float,
    size: int,
    drain_s: float = 10.0,
    clients: int = 1,
    encrypt_key: bytes = b"",
) -> LoadReport:
    """Offer ``rate`` tx/s of ``size``-byte payloads for ``duration_s`` seconds and report;
    with ``encrypt_key`` (the set's threshold key) the payloads are encrypted.
    Raises ValueError for a bad plan, ApiError if a node cannot be reached."""
    plan = LoadPlan(tuple(addresses), rate, duration_s, size, drain_s, clients)
    if encrypt_key:
        plan = replace(plan, encrypt_key=encrypt_key.hex())
    return await run_plan(plan)


async def run_plan(plan: LoadPlan) -> LoadReport:
    matcher = Matcher()
    tally = Tally()
    async with trio.open_nursery() as nursery:
        await nursery.start(follow_commits, plan.addresses, matcher)
        if plan.clients == 1:
            source = TxSource(plan.size, plan.premade, plan.encrypt_key)
            start, cpu = time.monotonic(), -process_cpu_s()
            tally.add(await submit_all(plan, source, start, matcher.acks))
        else:
            start, cpu = await _run_workers(plan, matcher, tally)
            cpu -= process_cpu_s()
        with trio.move_on_after(plan.drain_s):
            while matcher.waiting:
                await trio.sleep(0.05)
        nursery.cancel_scope.cancel()
    cpu += process_cpu_s()
    end = time.monotonic()
    latencies = sorted(matcher.latencies_ms)
    measured = matcher.last_commit - start
    offering = max(plan.duration_s, tally.last_offer - start)
    return LoadReport(
        submitted=tally.offered,
        refused=tally.refused,
        committed=len(latencies),
        duration_s=round(end - start, 2),
        committed_tps=round(len(latencies) / measured, 1) if measured > 0 else 0.0,
        latency_p50_ms=percentile(latencies, 0.5),
        latency_p99_ms=percentile(latencies, 0.99),
        heights=matcher.heights,
        rate=plan.rate,
        offered_tps=round(tally.offered / offering, 1),
        acked=tally.acked,
        busy=tally.busy,
        gave_up=tally.gave_up,
        unanswered=tally.unanswered,
        gone=tuple(tally.gone),
        uncommitted=matcher.waiting,
        requests=tally.requests,
        clients=plan.clients,
        submitters_per_node=plan.submitters,
        client_cpu_s=round(cpu, 2),
    )


async def _run_workers(plan: LoadPlan, matcher: Matcher, tally: Tally) -> tuple[float, float]:
    """Start ``plan.clients`` worker processes, start them together once all are ready, feed
    their acks to ``matcher`` and their tallies to ``tally``. Returns the start time and the
    workers' CPU seconds."""
    command = [sys.executable, "-m", "sequencer_net.load.worker"]
    procs = [
        await trio.lowlevel.open_process(
            [*command, json.dumps(plan.share(i).to_json())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        for i in range(plan.clients)
    ]
    cpu = 0.0
    try:
        readers = [FrameReader(p.stdout, MAX_ANSWER_FRAME) for p in procs]  # type: ignore[arg-type]
        with trio.move_on_after(READY_TIMEOUT_S) as ready:
            for reader in readers:
                await _receive(reader, "ready")
        if ready.cancelled_caught:
            raise ApiError(f"a load client process was not ready within {READY_TIMEOUT_S:g} s")
        start = time.monotonic() + START_MARGIN_S
        for proc in procs:
            await send_frame(proc.stdin, pack({"go": start}))  # type: ignore[arg-type]

        async def collect(reader: FrameReader) -> None:
            nonlocal cpu
            while True:
                message = await _receive(reader, "acks", "done")
                if "done" in message:
                    tally.add(Tally(**message["done"]))
                    cpu += float(message["cpu_s"])
                    return
                matcher.acks([(bytes(t), float(s)) for t, s in message["acks"]])

        async with trio.open_nursery() as nursery:
            for reader in readers:
                nursery.start_soon(collect, reader)
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
    return start, cpu


async def _receive(reader: FrameReader, *keys: str) -> dict[str, Any]:
    """The worker's next message, which must hold one of ``keys``."""
    try:
        message = unpack(await reader.receive())
    except NetError as exc:
        raise ApiError(f"a load client process stopped early ({exc}); see its error") from None
    if not any(key in message for key in keys):
        raise ApiError(f"a load client process sent {sorted(message)}, expected {keys}")
    return message
