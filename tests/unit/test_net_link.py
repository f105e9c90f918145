"""Sealed links: round trips, and every kind of wire tampering ends the link with a LinkError."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from sequencer_net.crypto import PrivateKey
from sequencer_net.net import (
    LinkClosed,
    LinkError,
    Opener,
    Sealer,
    SecureLink,
    SessionKeys,
    encode_frame,
    handshake,
)

CHAIN = "test-chain"
N1, N2 = PrivateKey.from_label("n1"), PrivateKey.from_label("n2")
K_AB, K_BA = bytes(range(32)), bytes(range(32, 64))


def sealed_frames(*payloads: bytes) -> list[bytes]:
    """The wire frames A would send to B for these payloads, in order."""
    sealer = Sealer(K_AB)
    return [encode_frame(sealer.seal(p)) for p in payloads]


def receiving_link(
    max_frame_bytes: int = 1024,
) -> tuple[trio.abc.Stream, SecureLink]:
    """A raw stream for the test to write A's bytes into, and B's link reading them."""
    raw, stream = trio.testing.memory_stream_pair()
    link = SecureLink(
        stream, SessionKeys(send=K_BA, receive=K_AB), N1.public_key, max_frame_bytes=max_frame_bytes
    )
    return raw, link


async def assert_dead(raw: trio.abc.Stream, link: SecureLink) -> None:
    """After a failure the link refuses further use and the peer sees the connection end."""
    assert link.closed
    with pytest.raises(LinkClosed):
        await link.receive()
    with pytest.raises(LinkClosed):
        await link.send(b"more")
    assert await raw.receive_some() == b""


async def test_round_trips_over_tcp_after_handshake() -> None:
    with trio.fail_after(5):
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        async with listeners[0] as listener:
            client = await trio.testing.open_stream_to_socket_listener(listener)
            server = await listener.accept()
        links: dict[str, SecureLink] = {}

        async def connect(name: str, stream: trio.SocketStream, key: PrivateKey) -> None:
            allowed = {N1.public_key, N2.public_key}
            links[name] = await handshake(stream, key, CHAIN, allowed, name == "a")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(connect, "a", client, N1)
            nursery.start_soon(connect, "b", server, N2)
        a, b = links["a"], links["b"]
        payloads = [b"", b"x", bytes(200_000), *(i.to_bytes(2, "big") for i in range(100))]
        async with a, b, trio.open_nursery() as nursery:

            async def pump(src: SecureLink) -> None:
                for p in payloads:
                    await src.send(p)

            nursery.start_soon(pump, a)
            nursery.start_soon(pump, b)
            assert [await b.receive() for _ in payloads] == payloads
            assert [await a.receive() for _ in payloads] == payloads


async def test_concurrent_senders_keep_the_counter_in_step() -> None:
    with trio.fail_after(5):
        a_stream, b_stream = trio.testing.memory_stream_pair()
        a = SecureLink(a_stream, SessionKeys(send=K_AB, receive=K_BA), N2.public_key)
        b = SecureLink(b_stream, SessionKeys(send=K_BA, receive=K_AB), N1.public_key)
        async with trio.open_nursery() as nursery:
            for task in range(4):
                for i in range(10):
                    nursery.start_soon(a.send, bytes([task, i]))
        received = {await b.receive() for _ in range(40)}
        assert received == {bytes([t, i]) for t in range(4) for i in range(10)}


async def test_tampered_ciphertext_is_a_link_error() -> None:
    with trio.fail_after(5):
        raw, link = receiving_link()
        frame = bytearray(sealed_frames(b"transfer 10")[0])
        frame[-1] ^= 1
        await raw.send_all(bytes(frame))
        with pytest.raises(LinkError, match="failed authentication"):
            await link.receive()
        await assert_dead(raw, link)


async def test_replayed_frame_is_a_link_error() -> None:
    with trio.fail_after(5):
        raw, link = receiving_link()
        first, _ = sealed_frames(b"vote", b"vote again")
        await raw.send_all(first + first)
        assert await link.receive() == b"vote"
        with pytest.raises(LinkError):
            await link.receive()
        await assert_dead(raw, link)


async def test_dropped_frame_is_a_link_error() -> None:
    with trio.fail_after(5):
        raw, link = receiving_link()
        first, _, third = sealed_frames(b"0", b"1", b"2")
        await raw.send_all(first + third)
        assert await link.receive() == b"0"
        with pytest.raises(LinkError):
            await link.receive()
        await assert_dead(raw, link)


async def test_reordered_frames_are_a_link_error() -> None:
    with trio.fail_after(5):
        raw, link = receiving_link()
        first, second = sealed_frames(b"0", b"1")
        await raw.send_all(second + first)
        with pytest.raises(LinkError):
            await link.receive()
        await assert_dead(raw, link)


async def test_frame_too_short_for_a_mac_is_a_link_error() -> None:
    with trio.fail_after(5):
        raw, link = receiving_link()
        await raw.send_all(encode_frame(b"tiny"))
        with pytest.raises(LinkError):
            await link.receive()
        await assert_dead(raw, link)


async def test_oversized_incoming_frame_is_a_link_error() -> None:
    with trio.fail_after(5):
        raw, link = receiving_link(max_frame_bytes=64)
        await raw.send_all((65).to_bytes(4, "big"))
        with pytest.raises(LinkError, match="exceeds"):
            await link.receive()
        await assert_dead(raw, link)


async def test_oversized_send_is_refused_locally_and_the_link_survives() -> None:
    with trio.fail_after(5):
        a_stream, b_stream = trio.testing.memory_stream_pair()
        a = SecureLink(
            a_stream, SessionKeys(send=K_AB, receive=K_BA), N2.public_key, max_frame_bytes=64
        )
        b = SecureLink(b_stream, SessionKeys(send=K_BA, receive=K_AB), N1.public_key)
        assert a.max_payload_bytes == 48
        with pytest.raises(ValueError):
            await a.send(bytes(49))
        await a.send(bytes(48))
        assert await b.receive() == bytes(48)


async def test_peer_hanging_up_is_link_closed() -> None:
    with trio.fail_after(5):
        raw, link = receiving_link()
        (frame,) = sealed_frames(b"bye")
        await raw.send_all(frame)
        await raw.aclose()
        assert await link.receive() == b"bye"
        with pytest.raises(LinkClosed, match="peer closed"):
            await link.receive()


async def test_truncated_frame_at_eof_is_a_link_error() -> None:
    with trio.fail_after(5):
        raw, link = receiving_link()
        (frame,) = sealed_frames(b"half")
        await raw.send_all(frame[:-2])
        await raw.send_eof()
        with pytest.raises(LinkError, match="middle of a frame"):
            await link.receive()


async def test_cancelled_receive_keeps_the_link_usable() -> None:
    with trio.fail_after(5):
        raw, link = receiving_link()
        (frame,) = sealed_frames(b"later")
        with trio.move_on_after(0.05):
            await link.receive()
        assert not link.closed
        await raw.send_all(frame)
        assert await link.receive() == b"later"


async def test_cancelled_send_closes_the_link() -> None:
    """A half-written frame would desynchronise the peer, so an interrupted send ends the link."""
    with trio.fail_after(5):
        stream, peer = trio.testing.lockstep_stream_pair()  # send_all waits for a reader
        link = SecureLink(stream, SessionKeys(send=K_AB, receive=K_BA), N2.public_key)
        with trio.move_on_after(0.05) as scope:
            await link.send(b"never read")
        assert scope.cancelled_caught
        assert link.closed
        with pytest.raises(LinkClosed):
            await link.send(b"again")
        await peer.aclose()


async def test_closing_the_link_wakes_a_pending_receive() -> None:
    with trio.fail_after(5):
        _raw, link = receiving_link()
        async with trio.open_nursery() as nursery:

            async def receiver() -> None:
                with pytest.raises(LinkClosed):
                    await link.receive()

            nursery.start_soon(receiver)
            await trio.testing.wait_all_tasks_blocked()
            await link.aclose()


def test_opener_does_not_advance_past_a_bad_frame() -> None:
    sealer, opener = Sealer(K_AB), Opener(K_AB)
    good = sealer.seal(b"ok")
    with pytest.raises(LinkError):
        opener.open(good[:-1] + bytes([good[-1] ^ 1]))
    assert opener.open(good) == b"ok"


def test_directions_do_not_open_each_others_frames() -> None:
    with pytest.raises(LinkError):
        Opener(K_BA).open(Sealer(K_AB).seal(b"mine"))


@given(st.lists(st.binary(max_size=80), max_size=5))
def test_arbitrary_frames_only_raise_link_error(frames: list[bytes]) -> None:
    opener = Opener(K_AB)
    for frame in frames:
        with pytest.raises(LinkError):
            opener.open(frame)
