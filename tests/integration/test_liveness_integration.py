"""A halt is visible: with half the stake paused, the others log ``stall``, their status
shows only the peers they still hear and how long ago they last committed, and the first
commit after the halt logs ``commit_resumed``. Real processes; SIGSTOP and SIGCONT."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import trio
from helpers.cluster import FAST, addresses, events, wait_for_height

from sequencer_net.cluster.control import Cluster
from sequencer_net.cluster.init import init_cluster
from sequencer_net.cluster.status import gather
from sequencer_net.config import ClusterSpec
from sequencer_net.runtime.node import STALL_AFTER_ROUNDS

STALL_MS = STALL_AFTER_ROUNDS * (FAST.propose_ms + FAST.prevote_ms + FAST.precommit_ms)


async def watch_once(cluster: Cluster) -> dict:
    """`sequencer-net watch --once --json` of the cluster: what its banner shows."""
    argv = [sys.executable, "-m", "sequencer_net", "watch", "--once", "--json"]
    with trio.fail_after(60):  # a guard against a hang, not a timing
        done = await trio.run_process([*argv, "--dir", str(cluster.root)], capture_stdout=True)
    return json.loads(done.stdout)


async def wait_until(condition, what: str, timeout: float = 60) -> None:
    with trio.move_on_after(timeout):
        while not await condition():
            await trio.sleep(0.2)
        return
    raise AssertionError(f"not within {timeout} s: {what}")


async def test_a_halt_shows_in_status_and_in_the_log(tmp_path: Path) -> None:
    cluster = Cluster(init_cluster(ClusterSpec("halt", 4, timeouts=FAST), tmp_path / "c"))
    cluster.up()
    paused: list[str] = []
    try:
        client = addresses(cluster)
        await wait_for_height(client["n1"], 3)

        async def row(name: str):
            return next(r for r in await gather(cluster) if r.name == name)

        async def hears_all() -> bool:
            return (await row("n1")).peers == ["n2", "n3", "n4"]

        await wait_until(hears_all, "n1 hears every peer")
        # A busy machine may have stalled briefly already: only what follows the pause counts.
        stalls_before = len(events(cluster, "n1", "stall"))
        resumes_before = len(events(cluster, "n1", "commit_resumed"))
        for name in ("n3", "n4"):
            cluster.pause(name)
            paused.append(name)

        async def halted() -> bool:
            status = await row("n1")
            age = status.last_commit_age_ms
            return (
                status.peers == ["n2"]
                and age is not None
                and age >= STALL_MS
                and len(events(cluster, "n1", "stall")) > stalls_before
            )

        await wait_until(halted, "n1 logs stall and shows the halt in status")
        warning = events(cluster, "n1", "stall")[stalls_before]
        assert warning["since_ms"] >= STALL_MS and "n2" in warning["peers_heard"]
        # The warning and watch's HALTED banner name one height: the last committed (they
        # once differed by one, the warning naming the height being decided).
        assert warning["height"] == (await row("n1")).height == warning["deciding"] - 1
        shown = await watch_once(cluster)
        assert shown["chain"] == "HALTED"
        n2_stalls = events(cluster, "n2", "stall")
        stalled_at = max([warning["height"], *(w["height"] for w in n2_stalls[-1:])])
        assert shown["height"] == stalled_at, (shown, warning, n2_stalls[-1:])
        assert len(events(cluster, "n1", "commit_resumed")) == resumes_before
        for name in paused:
            cluster.resume(name)
        paused.clear()

        async def resumed() -> bool:
            return len(events(cluster, "n1", "commit_resumed")) > resumes_before

        await wait_until(resumed, "n1 logs commit_resumed")
        done = events(cluster, "n1", "commit_resumed")[resumes_before]
        assert done["stalled_ms"] >= STALL_MS
    finally:
        for name in paused:
            cluster.resume(name)
        cluster.down(timeout=5)
