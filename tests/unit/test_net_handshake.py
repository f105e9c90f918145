"""Handshake: agreement on keys, and typed refusal of every bad peer (sans-IO and over TCP)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgpack
import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st
from nacl.public import PrivateKey as EphemeralKey

from sequencer_net.crypto import PrivateKey
from sequencer_net.net import (
    PROTOCOL_VERSION,
    FrameDecoder,
    FrameReader,
    Handshake,
    HandshakeError,
    NetError,
    SecureLink,
    encode_frame,
    handshake,
    send_frame,
)
from sequencer_net.net.handshake import MAX_HANDSHAKE_FRAME_BYTES

CHAIN = "test-chain"
N1, N2, N3 = (PrivateKey.from_label(n) for n in ("n1", "n2", "n3"))
VALIDATORS = frozenset({N1.public_key, N2.public_key})


def hello(
    version: Any = PROTOCOL_VERSION,
    chain: Any = CHAIN,
    ephemeral: Any = None,
    static: Any = N2.public_key,
) -> bytes:
    if ephemeral is None:
        ephemeral = bytes(EphemeralKey.generate().public_key)
    return msgpack.packb([version, chain, ephemeral, static], use_bin_type=True)


def sans_io_pair() -> tuple[Handshake, Handshake]:
    return (
        Handshake(N1, CHAIN, VALIDATORS, initiator=True),
        Handshake(N2, CHAIN, VALIDATORS, initiator=False),
    )


async def tcp_pair() -> tuple[trio.SocketStream, trio.SocketStream]:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    async with listeners[0] as listener:
        client = await trio.testing.open_stream_to_socket_listener(listener)
        server = await listener.accept()
    return client, server


async def both(*calls: Callable[[], Awaitable[Any]]) -> list[Any]:
    """Run the calls concurrently; each result is its return value or the NetError it raised."""
    results: list[Any] = [None] * len(calls)

    async def run(i: int, call: Callable[[], Awaitable[Any]]) -> None:
        try:
            results[i] = await call()
        except NetError as exc:
            results[i] = exc

    async with trio.open_nursery() as nursery:
        for i, call in enumerate(calls):
            nursery.start_soon(run, i, call)
    return results


def test_both_sides_derive_matching_directional_keys() -> None:
    initiator, responder = sans_io_pair()
    auth_i = initiator.receive_hello(responder.hello())
    auth_r = responder.receive_hello(initiator.hello())
    keys_i = initiator.receive_auth(auth_r)
    keys_r = responder.receive_auth(auth_i)
    assert keys_i.send == keys_r.receive
    assert keys_i.receive == keys_r.send
    assert keys_i.send != keys_i.receive
    assert len(keys_i.send) == 32
    assert (initiator.peer_key, responder.peer_key) == (N2.public_key, N1.public_key)
    assert keys_i.send.hex() not in repr(keys_i)


def test_allowed_may_be_a_callable() -> None:
    initiator = Handshake(N1, CHAIN, lambda key: key == N2.public_key, initiator=True)
    initiator.receive_hello(hello())
    with pytest.raises(HandshakeError, match="not an allowed validator"):
        Handshake(N1, CHAIN, lambda key: False, initiator=True).receive_hello(hello())


def test_tampered_auth_signature_is_refused() -> None:
    initiator, responder = sans_io_pair()
    initiator.receive_hello(responder.hello())
    auth = bytearray(responder.receive_hello(initiator.hello()))
    auth[10] ^= 1
    with pytest.raises(HandshakeError, match="does not verify"):
        initiator.receive_auth(bytes(auth))


def test_auth_from_another_session_is_refused() -> None:
    initiator, responder = sans_io_pair()
    initiator.receive_hello(responder.hello())
    _, old_responder = sans_io_pair()
    stale = old_responder.receive_hello(Handshake(N1, CHAIN, VALIDATORS, initiator=True).hello())
    with pytest.raises(HandshakeError, match="does not verify"):
        initiator.receive_auth(stale)


def test_two_initiators_do_not_agree() -> None:
    """Roles are part of the transcript order and the signed payload, so they must differ."""
    one = Handshake(N1, CHAIN, VALIDATORS, initiator=True)
    two = Handshake(N2, CHAIN, VALIDATORS, initiator=True)
    auth_one = one.receive_hello(two.hello())
    auth_two = two.receive_hello(one.hello())
    with pytest.raises(HandshakeError, match="does not verify"):
        one.receive_auth(auth_two)
    with pytest.raises(HandshakeError, match="does not verify"):
        two.receive_auth(auth_one)


@pytest.mark.parametrize("auth", [b"", b"x" * 63, b"x" * 65])
def test_malformed_auth_is_refused(auth: bytes) -> None:
    initiator, responder = sans_io_pair()
    initiator.receive_hello(responder.hello())
    with pytest.raises(HandshakeError, match="malformed auth"):
        initiator.receive_auth(auth)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (hello(static=N3.public_key), "not an allowed validator"),
        (hello(chain="other-chain"), "chain"),
        (hello(static=N1.public_key), "our own validator key"),
        (hello(version=PROTOCOL_VERSION + 1), "version"),
        (msgpack.packb([PROTOCOL_VERSION + 1, "future", "shape", 1, 2]), "version"),
        (hello(version=True), "malformed hello"),
        (hello(ephemeral=b"short"), "ephemeral key"),
        (hello(static="not-bytes"), "static key"),
        (hello(chain=b"bytes"), "chain id"),
        (hello(ephemeral=bytes(32)), "low-order"),
        (msgpack.packb([PROTOCOL_VERSION, CHAIN]), "fields"),
        (msgpack.packb({"version": 1}), "malformed hello"),
        (msgpack.packb([]), "malformed hello"),
        (b"\xc1", "not msgpack"),
        (hello() + b"\x00", "not msgpack"),
        (b"GET / HTTP/1.1\r\n\r\n", "malformed hello"),
    ],
)
def test_bad_hello_is_refused_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(HandshakeError, match=reason):
        Handshake(N1, CHAIN, VALIDATORS, initiator=True).receive_hello(payload)


@given(st.binary(max_size=MAX_HANDSHAKE_FRAME_BYTES))
def test_arbitrary_bytes_as_hello_only_raise_handshake_error(payload: bytes) -> None:
    with pytest.raises(HandshakeError):
        Handshake(N1, CHAIN, VALIDATORS, initiator=True).receive_hello(payload)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(),
    st.text(max_size=8),
    st.binary(max_size=40),
)


@given(st.lists(st.one_of(scalars, st.lists(scalars, max_size=3)), max_size=6))
def test_structured_garbage_hello_only_raises_handshake_error(fields: list[Any]) -> None:
    with pytest.raises(HandshakeError):
        Handshake(N1, CHAIN, VALIDATORS, initiator=True).receive_hello(msgpack.packb(fields))


@given(st.binary(max_size=100))
def test_arbitrary_auth_only_raises_handshake_error(auth: bytes) -> None:
    initiator, responder = sans_io_pair()
    initiator.receive_hello(responder.hello())
    with pytest.raises(HandshakeError):
        initiator.receive_auth(auth)


def test_steps_out_of_order_are_a_programming_error() -> None:
    initiator, responder = sans_io_pair()
    with pytest.raises(RuntimeError):
        initiator.receive_auth(b"x" * 64)
    initiator.receive_hello(responder.hello())
    with pytest.raises(RuntimeError):
        initiator.receive_hello(responder.hello())


async def test_handshake_over_tcp_then_messages_flow_both_ways() -> None:
    with trio.fail_after(5):
        client, server = await tcp_pair()
        link_c, link_s = await both(
            lambda: handshake(client, N1, CHAIN, VALIDATORS, True),
            lambda: handshake(server, N2, CHAIN, VALIDATORS, False),
        )
        assert isinstance(link_c, SecureLink)
        assert isinstance(link_s, SecureLink)
        async with link_c, link_s:
            assert (link_c.peer_key, link_s.peer_key) == (N2.public_key, N1.public_key)
            await link_c.send(b"ping")
            await link_s.send(b"pong")
            assert await link_s.receive() == b"ping"
            assert await link_c.receive() == b"pong"


async def test_frame_sent_right_after_handshake_is_not_lost() -> None:
    """The peer's first sealed frame may arrive with its auth; the link must get those bytes."""
    with trio.fail_after(5):
        left, right = trio.testing.memory_stream_pair()

        async def eager() -> SecureLink:
            link = await handshake(left, N1, CHAIN, VALIDATORS, True)
            await link.send(b"first")
            return link

        _, link_r = await both(eager, lambda: handshake(right, N2, CHAIN, VALIDATORS, False))
        assert await link_r.receive() == b"first"


async def test_impostor_is_refused_and_cut_off() -> None:
    with trio.fail_after(5):
        client, server = await tcp_pair()
        impostor, honest = await both(
            lambda: handshake(client, N3, CHAIN, VALIDATORS | {N3.public_key}, True),
            lambda: handshake(server, N2, CHAIN, VALIDATORS, False),
        )
        assert isinstance(honest, HandshakeError)
        assert "not an allowed validator" in str(honest)
        assert isinstance(impostor, HandshakeError)  # it only sees the door shut


async def test_wrong_chain_id_is_refused_on_both_ends() -> None:
    with trio.fail_after(5):
        client, server = await tcp_pair()
        results = await both(
            lambda: handshake(client, N1, "chain-a", VALIDATORS, True),
            lambda: handshake(server, N2, "chain-b", VALIDATORS, False),
        )
        for result in results:
            assert isinstance(result, HandshakeError)
            assert "chain" in str(result)


async def test_peer_with_our_own_key_is_refused() -> None:
    with trio.fail_after(5):
        client, server = await tcp_pair()
        results = await both(
            lambda: handshake(client, N1, CHAIN, VALIDATORS, True),
            lambda: handshake(server, N1, CHAIN, VALIDATORS, False),
        )
        assert all("our own validator key" in str(r) for r in results)


async def test_tampered_auth_over_tcp_is_refused() -> None:
    with trio.fail_after(5):
        client, server = await tcp_pair()

        async def forger() -> None:
            state = Handshake(N1, CHAIN, VALIDATORS, initiator=True)
            reader = FrameReader(client, MAX_HANDSHAKE_FRAME_BYTES)
            await send_frame(client, state.hello())
            auth = bytearray(state.receive_hello(await reader.receive()))
            auth[-1] ^= 0x80
            await send_frame(client, bytes(auth))
            await reader.receive()  # the honest side's auth, then the door shuts

        _, honest = await both(forger, lambda: handshake(server, N2, CHAIN, VALIDATORS, False))
        assert isinstance(honest, HandshakeError)
        assert "does not verify" in str(honest)


async def test_silent_peer_is_cut_off_by_the_callers_timeout() -> None:
    with trio.fail_after(5):
        client, server = await tcp_pair()
        with trio.move_on_after(0.2) as scope:
            await handshake(server, N2, CHAIN, VALIDATORS, False)
        assert scope.cancelled_caught
        decoder = FrameDecoder(MAX_HANDSHAKE_FRAME_BYTES)
        while chunk := await client.receive_some():  # our hello, then EOF: the socket was closed
            decoder.feed(chunk)
        our_hello = decoder.next_frame()
        assert our_hello is not None
        assert msgpack.unpackb(our_hello)[3] == N2.public_key
        assert decoder.buffered == 0
        await client.aclose()


@pytest.mark.parametrize(
    "garbage",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        bytes(4),
        encode_frame(b"\x93\x01\xa1x"),
        encode_frame(b"\xff" * 40),
        encode_frame(hello())[:-3],
    ],
)
async def test_garbage_instead_of_hello_is_a_handshake_error(garbage: bytes) -> None:
    with trio.fail_after(5):
        client, server = await tcp_pair()
        await client.send_all(garbage)
        await client.send_eof()
        with pytest.raises(HandshakeError):
            await handshake(server, N2, CHAIN, VALIDATORS, False)
        await client.aclose()


async def test_refused_handshake_closes_the_stream() -> None:
    with trio.fail_after(5):
        left, right = trio.testing.memory_stream_pair()
        await left.send_all(encode_frame(hello(chain="elsewhere")))
        with pytest.raises(HandshakeError):
            await handshake(right, N1, CHAIN, VALIDATORS, True)
        with pytest.raises(trio.ClosedResourceError):
            await right.send_all(b"x")
