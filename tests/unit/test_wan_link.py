"""The emulated WAN in the link layer: real peer managers on loopback over sealed links.

A measured round trip between two emulated regions is at least the matrix's two one-way delays
(a lower bound load cannot break) and within a generous upper bound; one link keeps its frames
in order however the jitter falls; a far peer's delay does not hold up a near one.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

import trio

from sequencer_net.cluster.ports import free_ports
from sequencer_net.config.network import NetworkSpec
from sequencer_net.crypto import PrivateKey
from sequencer_net.latency import LinkLatency
from sequencer_net.net.delay import DelayLine
from sequencer_net.runtime.peers import PeerInfo, PeerManager

CHAIN = "wan-test"
SLACK_S = 3.0  # the upper bound's allowance for a busy machine: generous on purpose
Deliver = Callable[[bytes, bytes], Awaitable[None]]


def test_due_times_never_go_backwards_and_never_undercut_the_delay() -> None:
    line = DelayLine(LinkLatency(30, 50), random.Random(1))
    dues = [line.due(t / 1000) for t in range(0, 200, 2)]
    assert dues == sorted(dues)
    assert all(due >= t / 1000 + 0.030 for t, due in zip(range(0, 200, 2), dues, strict=True))
    assert any(due > t / 1000 + 0.031 for t, due in zip(range(0, 200, 2), dues, strict=True))


def test_the_same_seed_draws_the_same_jitter() -> None:
    latency = LinkLatency(10, 20)
    draws = [[latency.draw(random.Random("7/n1/n2")) for _ in range(5)] for _ in range(2)]
    assert draws[0] == draws[1]
    other = [latency.draw(random.Random("8/n1/n2")) for _ in range(5)]
    assert other != draws[0]


def managers(
    names: list[str], network: NetworkSpec, deliver: dict[str, Deliver]
) -> tuple[dict[str, PeerManager], dict[str, bytes], dict[str, int]]:
    """One peer manager per name, each delaying its frames by ``network``'s matrix."""
    keys = {name: PrivateKey.from_label(f"wan-{name}") for name in names}
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    infos = {n: PeerInfo(n, keys[n].public_key, "127.0.0.1", ports[n]) for n in names}
    result = {}
    for name in names:
        node = network.for_node(name)
        others = [infos[n] for n in names if n != name]
        delays = {
            p.public_key: DelayLine(node.peers[p.name], node.rng(name, p.name)) for p in others
        }
        result[name] = PeerManager(keys[name], CHAIN, others, deliver[name], delays=delays)
    return result, {n: keys[n].public_key for n in names}, ports


def two_regions(delay_ms: int, jitter_ms: int) -> NetworkSpec:
    latency = LinkLatency(delay_ms, jitter_ms)
    return NetworkSpec(1, {"a": "east", "b": "west"}, {("east", "west"): latency})


async def wait_linked(peers: dict[str, PeerManager]) -> None:
    with trio.fail_after(30):  # a guard against a hang, not a timing
        while any(len(p.connected()) < len(peers) - 1 for p in peers.values()):
            await trio.sleep(0.01)


async def test_a_round_trip_between_two_regions_takes_the_matrix_delay() -> None:
    network = two_regions(60, 10)
    arrived: dict[bytes, float] = {}
    got = trio.Event()
    pongs = 5

    async def at_a(peer: bytes, frame: bytes) -> None:
        arrived[frame] = trio.current_time()
        if len(arrived) == pongs:
            got.set()

    async def at_b(peer: bytes, frame: bytes) -> None:
        peers["b"].send(b"pong" + frame[4:], peer)

    peers, keys, ports = managers(["a", "b"], network, {"a": at_a, "b": at_b})
    async with trio.open_nursery() as nursery:
        for name, manager in peers.items():
            await nursery.start(manager.run, "127.0.0.1", ports[name])
        await wait_linked(peers)
        sent = {}
        for i in range(pongs):
            sent[b"pong%d" % i] = trio.current_time()
            peers["a"].send(b"ping%d" % i, keys["b"])
            await trio.sleep(0.05)
        with trio.fail_after(30):
            await got.wait()
        nursery.cancel_scope.cancel()
    rtts = [arrived[k] - sent[k] for k in sent]
    assert min(rtts) >= 2 * 0.060, rtts  # both one-way delays, whatever the load
    assert max(rtts) <= 2 * 0.070 + SLACK_S, rtts


async def test_one_link_keeps_its_frames_in_order_under_jitter() -> None:
    network = two_regions(5, 40)  # jitter far above the gap between frames
    received: list[bytes] = []
    done = trio.Event()
    count = 300

    async def at_b(peer: bytes, frame: bytes) -> None:
        received.append(frame)
        if len(received) == count:
            done.set()

    async def ignore(peer: bytes, frame: bytes) -> None:
        pass

    peers, keys, ports = managers(["a", "b"], network, {"a": ignore, "b": at_b})
    async with trio.open_nursery() as nursery:
        for name, manager in peers.items():
            await nursery.start(manager.run, "127.0.0.1", ports[name])
        await wait_linked(peers)
        for i in range(count):
            peers["a"].send(b"%04d" % i, keys["b"])
            if i % 10 == 0:
                await trio.sleep(0.001)
        with trio.fail_after(30):
            await done.wait()
        nursery.cancel_scope.cancel()
    assert received == [b"%04d" % i for i in range(count)]


async def test_a_far_peer_does_not_hold_up_a_near_one() -> None:
    far, near = LinkLatency(800, 0), LinkLatency(0, 0)
    network = NetworkSpec(
        1,
        {"a": "home", "b": "away", "c": "home"},
        {("away", "home"): far, ("home", "home"): near, ("away", "away"): near},
    )
    at: dict[str, float] = {}
    near_seen_far = trio.Event()
    far_arrived = trio.Event()
    far_count_when_near_arrived: list[int] = []

    async def at_b(peer: bytes, frame: bytes) -> None:
        at["b"] = trio.current_time()
        far_arrived.set()

    async def at_c(peer: bytes, frame: bytes) -> None:
        at["c"] = trio.current_time()
        far_count_when_near_arrived.append(int(far_arrived.is_set()))
        near_seen_far.set()

    async def ignore(peer: bytes, frame: bytes) -> None:
        pass

    peers, keys, ports = managers(["a", "b", "c"], network, {"a": ignore, "b": at_b, "c": at_c})
    async with trio.open_nursery() as nursery:
        for name, manager in peers.items():
            await nursery.start(manager.run, "127.0.0.1", ports[name])
        await wait_linked(peers)
        started = trio.current_time()
        peers["a"].send(b"to the far one", keys["b"])  # queued first, due in 0.8 s
        peers["a"].send(b"to the near one", keys["c"])
        with trio.fail_after(30):
            await near_seen_far.wait()
            await far_arrived.wait()
        nursery.cancel_scope.cancel()
    assert far_count_when_near_arrived == [0]
    assert at["b"] - started >= 0.8
