"""One extra load client process (`load --clients N`): its share of the plan, driven by the
parent over its stdin and stdout.

Protocol, frames ``u32 length | msgpack`` each way: the worker makes its transactions and
opens its connections, sends ``{"ready"}``; the parent answers ``{"go": T}`` (a
``time.monotonic()`` moment, comparable across processes on Linux); the worker then sends
``{"acks": [[txid, first_send], ...]}`` as they arrive and finally ``{"done": tally,
"cpu_s": seconds}``. Errors go to stderr and a non-zero exit status.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict

import trio

from ..api_protocol import ApiError, pack, unpack
from ..net import FrameReader, send_frame
from .plan import LoadPlan, TxSource, process_cpu_s
from .submit import submit_all

FLUSH_S = 0.2


async def serve(plan: LoadPlan) -> None:
    source = TxSource(plan.size, plan.premade, plan.encrypt_key)
    stdout = trio.lowlevel.FdStream(os.dup(sys.stdout.fileno()))
    stdin = FrameReader(trio.lowlevel.FdStream(os.dup(sys.stdin.fileno())), 1024)
    await send_frame(stdout, pack({"ready": True}))
    start = float(unpack(await stdin.receive())["go"])
    cpu = process_cpu_s()
    pending: list[list[object]] = []

    async def flush_forever() -> None:
        while True:
            await trio.sleep(FLUSH_S)
            await flush()

    async def flush() -> None:
        if pending:
            chunk = pending[:]
            pending.clear()
            with trio.CancelScope(shield=True):  # a frame is sent whole or not at all
                await send_frame(stdout, pack({"acks": chunk}))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(flush_forever)
        tally = await submit_all(
            plan, source, start, lambda acks: pending.extend([t, s] for t, s in acks)
        )
        nursery.cancel_scope.cancel()
    await flush()
    await send_frame(stdout, pack({"done": asdict(tally), "cpu_s": process_cpu_s() - cpu}))


def main() -> None:
    try:
        trio.run(serve, LoadPlan.from_json(json.loads(sys.argv[1])))
    except (ApiError, ValueError, OSError) as exc:
        print(f"load client {os.getpid()}: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
