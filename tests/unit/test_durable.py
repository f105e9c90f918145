"""Group commit of acknowledged transactions: writes run on a worker thread, submissions made
during a write join the next one, and ``durable()`` returns only after the write that holds
everything added so far."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import trio
import trio.testing

from sequencer_net.runtime.durable import GroupCommit


class GatedWrite:
    """A write that records its batches and thread, and blocks until released."""

    def __init__(self) -> None:
        self.batches: list[list[bytes]] = []
        self.threads: set[int] = set()
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, batch: Sequence[bytes]) -> None:
        self.threads.add(threading.get_ident())
        self.batches.append(list(batch))
        self.started.set()
        self.release.wait(10)


async def test_writes_run_off_the_loop_and_later_submissions_join_the_next() -> None:
    write = GatedWrite()
    group = GroupCommit(write)
    done: list[str] = []

    async def submit(tx: bytes) -> None:
        group.add(tx)
        await group.durable()
        done.append(tx.decode())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(group.run)
        nursery.start_soon(submit, b"a")
        await trio.to_thread.run_sync(write.started.wait, 10)
        write.started.clear()
        for tx in (b"b", b"c"):
            nursery.start_soon(submit, tx)
        await trio.testing.wait_all_tasks_blocked()
        assert done == []  # the loop runs while the first write is held on its thread
        write.release.set()
        while len(done) < 3:
            await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    assert [sorted(batch) for batch in write.batches] == [[b"a"], [b"b", b"c"]]
    assert threading.get_ident() not in write.threads


async def test_durable_waits_for_the_write_in_flight() -> None:
    """A caller that asks after its transaction was taken into a write still waits for it."""
    write = GatedWrite()
    group = GroupCommit(write)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(group.run)
        group.add(b"x")
        await trio.to_thread.run_sync(write.started.wait, 10)
        returned = trio.Event()

        async def wait_durable() -> None:
            await group.durable()
            returned.set()

        nursery.start_soon(wait_durable)
        await trio.testing.wait_all_tasks_blocked()
        assert not returned.is_set()
        write.release.set()
        await returned.wait()
        nursery.cancel_scope.cancel()
