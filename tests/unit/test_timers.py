"""The node's timer queue: due timers fire earliest first, a sooner timer set while the task
sleeps wakes it, and a run of zero-delay timers lets other tasks run between them."""

from __future__ import annotations

import trio
import trio.testing

from sequencer_net.runtime.timers import TimerQueue


async def test_timers_fire_in_deadline_order_and_ties_in_the_order_set(
    autojump_clock: trio.abc.Clock,
) -> None:
    fired: list[tuple[str, str]] = []
    timers = TimerQueue[str, str](lambda owner, key: fired.append((owner, key)))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(timers.run)
        timers.set("r", "late", 30)
        timers.set("r", "early", 10)
        timers.set("r", "tie-1", 20)
        timers.set("r", "tie-2", 20)
        await trio.sleep(1)  # virtual time: every deadline above has passed
        nursery.cancel_scope.cancel()
    assert fired == [("r", "early"), ("r", "tie-1"), ("r", "tie-2"), ("r", "late")]
    assert len(timers) == 0


async def test_a_sooner_timer_wakes_the_sleeping_queue(autojump_clock: trio.abc.Clock) -> None:
    fired: list[tuple[str, float]] = []
    timers = TimerQueue[None, str](lambda _, key: fired.append((key, trio.current_time())))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(timers.run)
        start = trio.current_time()
        timers.set(None, "in an hour", 3_600_000)
        await trio.sleep(1)  # the queue now sleeps until the hour
        timers.set(None, "soon", 10)
        await trio.sleep(1)
        nursery.cancel_scope.cancel()
    assert [key for key, _ in fired] == ["soon"]
    assert fired[0][1] - start < 1.1


async def test_zero_delay_timers_that_set_more_let_other_tasks_run() -> None:
    others_ran = 0
    seen: list[int] = []  # how often the other task had run when each timer fired
    timers: TimerQueue[None, int]

    def again(_: None, n: int) -> None:
        seen.append(others_ran)
        if n < 100:
            timers.set(None, n + 1, 0)  # as a one-node set deciding height after height

    timers = TimerQueue(again)

    async def other() -> None:
        nonlocal others_ran
        while True:
            others_ran += 1
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(timers.run)
        nursery.start_soon(other)
        timers.set(None, 0, 0)
        with trio.fail_after(30):
            while len(seen) < 101:
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    assert seen[-1] - seen[0] >= 50  # the other task ran between the timers, not after all
