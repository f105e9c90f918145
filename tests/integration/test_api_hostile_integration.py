"""Hostile clients against a real node process: requests that once stopped a node, fuzzed
requests, and many connections holding half-sent frames. The node answers each, keeps
committing, and the memory it holds for unfinished requests stays bounded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import trio
from helpers.cluster import addresses, height_of, wait_for_height
from helpers.hostile import CLIENT_METHODS, KNOWN_KILLERS, hostile_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sequencer_net.api_protocol import MAX_REQUEST_FRAME, unpack
from sequencer_net.client import parse_address
from sequencer_net.cluster.control import Cluster
from sequencer_net.config import ClusterSpec
from sequencer_net.net import FrameReader, NetError, encode_frame
from sequencer_net.runtime.rpc import Limits

GARBAGE = [b"\xc1", b"\x92\x01\x02", b"\x81\xa6method\xcf" + b"\xff" * 8, b"\x00" * 100]


@pytest.fixture
def running(start: Callable[[ClusterSpec], Cluster]) -> Cluster:
    return start(ClusterSpec(name="hostile", nodes=4))


def alive(cluster: Cluster, name: str) -> bool:
    return any(p.name == name and p.state.value == "alive" for p in cluster.processes())


async def send_each(address: str, frames: list[bytes]) -> list[dict | None]:
    """Send each frame and read its answer; None where the node closed the connection
    (it may, after a malformed request), then go on over a new one."""
    answers: list[dict | None] = []
    stream = None
    for frame in frames:
        if stream is None:
            stream = await trio.open_tcp_stream(*parse_address(address))
            reader = FrameReader(stream, 1 << 20)
        try:
            await stream.send_all(encode_frame(frame))
            with trio.fail_after(10):
                answers.append(unpack(await reader.receive()))
        except (NetError, trio.BrokenResourceError):
            answers.append(None)
            await stream.aclose()
            stream = None
        assert await height_of(address) is not None, f"no status after {frame!r}"
    if stream is not None:
        await stream.aclose()
    return answers


async def test_requests_that_once_stopped_a_node_get_error_answers(running: Cluster) -> None:
    target = addresses(running)["n1"]
    start = await wait_for_height(target, 1)
    answers = await send_each(target, KNOWN_KILLERS + GARBAGE)
    for frame, answer in zip(KNOWN_KILLERS, answers, strict=False):
        assert answer is not None, frame
        refused = "error" in answer or all(error for _, error in answer["result"])
        assert refused, (frame, answer)
    assert alive(running, "n1")
    await wait_for_height(target, start + 3)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(requests=st.lists(hostile_request(CLIENT_METHODS), min_size=1, max_size=8))
def test_fuzzed_requests_never_stop_a_real_node(running: Cluster, requests: list[bytes]) -> None:
    target = addresses(running)["n2"]

    async def exercise() -> None:
        await wait_for_height(target, 1)
        await send_each(target, requests)

    trio.run(exercise)
    assert alive(running, "n2")


def resident_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


async def budget_refused(streams: list[trio.SocketStream]) -> None:
    """Wait until the node tells one connection that its shared buffer budget is spent: it
    has then read as much of the half-sent frames as it ever holds."""
    refused = False

    async def watch(stream: trio.SocketStream, scope: trio.CancelScope) -> None:
        nonlocal refused
        try:
            data = await stream.receive_some()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return
        if b"too many unfinished requests" in data:
            refused = True
            scope.cancel()

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            for stream in streams:
                nursery.start_soon(watch, stream, nursery.cancel_scope)
    assert refused, "no connection was refused for the shared buffer budget"


async def test_half_sent_frames_on_many_connections_hold_bounded_memory(running: Cluster) -> None:
    target = addresses(running)["n3"]
    start = await wait_for_height(target, 1)
    [pid] = [p.pid for p in running.processes() if p.name == "n3"]
    before = resident_bytes(pid)
    limits = Limits(MAX_REQUEST_FRAME)
    connections = limits.max_connections + 16
    body = bytes(3 * 1024 * 1024)  # 80 connections x 3 MiB: 240 MiB if nothing bounded it
    streams = []
    refused = 0
    try:
        for _ in range(connections):
            stream = await trio.open_tcp_stream(*parse_address(target))
            streams.append(stream)
            try:
                await stream.send_all((MAX_REQUEST_FRAME - 1).to_bytes(4, "big") + body)
            except trio.BrokenResourceError:
                refused += 1
        await budget_refused(streams)  # the node has read all it will hold
        grown = resident_bytes(pid) - before
        assert grown < limits.max_buffered_bytes + 48 * 1024 * 1024, grown
        assert await height_of(target) is not None  # a fresh client still gets answers
    finally:
        for stream in streams:
            await stream.aclose()
    assert alive(running, "n3")
    await wait_for_height(target, start + 3)


async def test_idle_connections_beyond_the_cap_do_not_lock_clients_out(running: Cluster) -> None:
    """A hundred connections holding a few bytes of a request each once took every slot for
    30 s, so no status or submit got in; the longest-waiting one now makes room."""
    target = addresses(running)["n4"]
    start = await wait_for_height(target, 1)
    streams = []
    try:
        for _ in range(Limits(MAX_REQUEST_FRAME).max_connections + 36):
            stream = await trio.open_tcp_stream(*parse_address(target))
            await stream.send_all(b"\x00\x3f\xff\xff" + bytes(1000))  # a frame begun, never sent
            streams.append(stream)
        assert await height_of(target) is not None  # a fresh client still gets answers
    finally:
        for stream in streams:
            await stream.aclose()
    assert alive(running, "n4")
    await wait_for_height(target, start + 3)
