"""Framing: the sans-IO decoder under arbitrary chunking, and the trio reader over real streams."""

from __future__ import annotations

import itertools

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from sequencer_net.net import ConnectionLost, FrameDecoder, FrameError, FrameReader, encode_frame
from sequencer_net.net.framing import send_frame


def drain(decoder: FrameDecoder) -> list[bytes]:
    frames = []
    while (frame := decoder.next_frame()) is not None:
        frames.append(frame)
    return frames


@given(
    payloads=st.lists(st.binary(min_size=1, max_size=300), max_size=20),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
)
def test_decoder_reassembles_split_and_merged_chunks(
    payloads: list[bytes], cuts: list[int]
) -> None:
    wire = b"".join(encode_frame(p) for p in payloads)
    bounds = sorted({0, len(wire), *(c % (len(wire) + 1) for c in cuts)})
    decoder = FrameDecoder(max_frame_bytes=300)
    received: list[bytes] = []
    for start, end in itertools.pairwise(bounds):
        decoder.feed(wire[start:end])
        received += drain(decoder)
    assert received == payloads
    assert decoder.buffered == 0


def test_frame_of_exactly_the_limit_is_accepted() -> None:
    decoder = FrameDecoder(max_frame_bytes=8)
    decoder.feed(encode_frame(b"12345678"))
    assert decoder.next_frame() == b"12345678"


def test_oversized_frame_is_refused_from_its_header_alone() -> None:
    decoder = FrameDecoder(max_frame_bytes=8)
    decoder.feed((9).to_bytes(4, "big"))
    with pytest.raises(FrameError, match="exceeds"):
        decoder.next_frame()


def test_huge_length_is_refused() -> None:
    decoder = FrameDecoder(max_frame_bytes=1024)
    decoder.feed(b"\xff\xff\xff\xff")
    with pytest.raises(FrameError):
        decoder.next_frame()


def test_zero_length_frame_is_refused() -> None:
    decoder = FrameDecoder(max_frame_bytes=8)
    decoder.feed(encode_frame(b"ok") + bytes(4))
    assert decoder.next_frame() == b"ok"
    with pytest.raises(FrameError, match="zero-length"):
        decoder.next_frame()


def test_encode_refuses_empty_payload() -> None:
    with pytest.raises(ValueError):
        encode_frame(b"")


@pytest.mark.parametrize("limit", [0, -1, 1 << 32])
def test_decoder_limit_must_be_encodable(limit: int) -> None:
    with pytest.raises(ValueError):
        FrameDecoder(max_frame_bytes=limit)


async def test_reader_returns_one_frame_at_a_time() -> None:
    with trio.fail_after(5):
        left, right = trio.testing.memory_stream_pair()
        await left.send_all(encode_frame(b"one") + encode_frame(b"two") + encode_frame(b"th"))
        reader = FrameReader(right, max_frame_bytes=64)
        assert await reader.receive() == b"one"
        assert await reader.receive() == b"two"
        assert await reader.receive() == b"th"


async def test_reader_reports_clean_eof_and_truncation_differently() -> None:
    with trio.fail_after(5):
        left, right = trio.testing.memory_stream_pair()
        await left.send_all(encode_frame(b"whole"))
        await left.send_eof()
        reader = FrameReader(right, max_frame_bytes=64)
        assert await reader.receive() == b"whole"
        with pytest.raises(ConnectionLost):
            await reader.receive()

        left, right = trio.testing.memory_stream_pair()
        await left.send_all(encode_frame(b"whole")[:-1])
        await left.send_eof()
        with pytest.raises(FrameError, match="middle of a frame"):
            await FrameReader(right, max_frame_bytes=64).receive()


async def test_cancelled_receive_loses_no_bytes() -> None:
    with trio.fail_after(5):
        left, right = trio.testing.memory_stream_pair()
        frame = encode_frame(b"patience")
        reader = FrameReader(right, max_frame_bytes=64)
        await left.send_all(frame[:5])
        with trio.move_on_after(0.05) as scope:
            await reader.receive()
        assert scope.cancelled_caught
        await left.send_all(frame[5:])
        assert await reader.receive() == b"patience"


async def test_frames_over_tcp_in_dribbles() -> None:
    payloads = [b"a", b"b" * 70_000, b"c" * 5]
    with trio.fail_after(5):
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        async with listeners[0] as listener:
            client = await trio.testing.open_stream_to_socket_listener(listener)
            server = await listener.accept()
        async with client, server:
            wire = b"".join(encode_frame(p) for p in payloads)

            async def dribble() -> None:
                for i in range(0, len(wire), 7_001):
                    await client.send_all(wire[i : i + 7_001])
                    await trio.sleep(0)
                await send_frame(client, b"last")

            async with trio.open_nursery() as nursery:
                nursery.start_soon(dribble)
                reader = FrameReader(server, max_frame_bytes=100_000)
                assert [await reader.receive() for _ in payloads] == payloads
                assert await reader.receive() == b"last"


async def test_send_frame_on_closed_stream_is_connection_lost() -> None:
    left, _right = trio.testing.memory_stream_pair()
    await left.aclose()
    with pytest.raises(ConnectionLost):
        await send_frame(left, b"x")
