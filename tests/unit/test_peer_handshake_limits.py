"""A public peer port: strangers that open connections and never finish a handshake may hold
only a few at once, per remote address and in all, and each goes after the handshake
timeout; memory streams and trio's mock clock stand in for sockets and time."""

from __future__ import annotations

import trio
import trio.testing

from sequencer_net.crypto import PrivateKey
from sequencer_net.runtime import peers
from sequencer_net.runtime.peers import PeerInfo, PeerManager

CHAIN = "test-chain"
KEY = PrivateKey.from_label("n1")
OTHER = PrivateKey.from_label("n2")


async def deliver(peer: bytes, frame: bytes) -> None:
    raise AssertionError("no handshake completes here")


def manager() -> PeerManager:
    return PeerManager(KEY, CHAIN, [PeerInfo("n2", OTHER.public_key, "127.0.0.1", 1)], deliver)


async def closed_now(stream: trio.abc.Stream) -> bool:
    """True if the node closed ``stream`` without waiting (read before any time passes)."""
    with trio.move_on_after(0.001):
        return await stream.receive_some(1) == b""
    return False


async def open_from(nursery: trio.Nursery, node: PeerManager, host: str | None) -> trio.abc.Stream:
    ours, theirs = trio.testing.memory_stream_pair()
    nursery.start_soon(node._accept, theirs, host)
    await trio.testing.wait_all_tasks_blocked()
    return ours


async def test_one_address_holds_at_most_its_share_of_pending_handshakes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    node = manager()
    async with trio.open_nursery() as nursery:
        held = [await open_from(nursery, node, "203.0.113.9") for _ in range(8)]
        extra = await open_from(nursery, node, "203.0.113.9")
        assert await closed_now(extra) and node.refused == 1
        other = await open_from(nursery, node, "198.51.100.4")
        assert not await closed_now(other)  # another address still gets a handshake
        assert not any([await closed_now(s) for s in held])
        await trio.sleep(peers.HANDSHAKE_TIMEOUT_S + 1)
        assert node.refused == 1 + 9  # every stalled handshake timed out
        again = await open_from(nursery, node, "203.0.113.9")
        assert not await closed_now(again)  # their slots came back
        nursery.cancel_scope.cancel()


async def test_pending_handshakes_are_capped_in_all(
    autojump_clock: trio.testing.MockClock, monkeypatch
) -> None:
    monkeypatch.setattr(peers, "MAX_PENDING_HANDSHAKES", 3)
    node = manager()
    async with trio.open_nursery() as nursery:
        hosts = [None, "203.0.113.1", "203.0.113.2"]  # None: loopback, under no address cap
        for host in hosts:
            assert not await closed_now(await open_from(nursery, node, host))
        assert await closed_now(await open_from(nursery, node, None))
        assert await closed_now(await open_from(nursery, node, "203.0.113.3"))
        nursery.cancel_scope.cancel()
