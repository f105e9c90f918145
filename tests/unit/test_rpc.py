"""The shared request loop on memory streams, with trio's mock clock so timeouts are exact:
the schema comes first, a failing handler costs one answer, and every connection is bounded
in number, in buffered bytes and in how long it may stay idle or half-sent."""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest
import trio
import trio.testing
from structlog.testing import capture_logs

from sequencer_net.api_protocol import pack, unpack
from sequencer_net.net import FrameReader, encode_frame
from sequencer_net.runtime.rpc import Limits, Method, NoParams, Refused, Reply, RpcServer

TIMEOUT_S = 30.0


class EchoParams(msgspec.Struct, forbid_unknown_fields=True):
    n: Annotated[int, msgspec.Meta(ge=0, le=9)]


async def echo(params: EchoParams) -> int:
    return params.n


async def broken(_: NoParams) -> None:
    raise RuntimeError("a bug")


async def refuses(_: NoParams) -> None:
    raise ValueError("not like that")


def server(**limits: int) -> RpcServer:
    methods = {
        "echo": Method(EchoParams, echo),
        "broken": Method(NoParams, broken),
        "refuses": Method(NoParams, refuses),
    }
    return RpcServer("client", methods, Limits(1024, request_timeout_s=TIMEOUT_S, **limits))


async def ask(stream: trio.abc.Stream, reader: FrameReader, request: dict) -> dict:
    await stream.send_all(encode_frame(pack(request)))
    return unpack(await reader.receive())


async def connect(nursery: trio.Nursery, rpc: RpcServer) -> tuple[trio.abc.Stream, FrameReader]:
    client, served = trio.testing.memory_stream_pair()
    nursery.start_soon(rpc.handle, served)
    await trio.testing.wait_all_tasks_blocked()  # served in the order connected
    return client, FrameReader(client, 1 << 20)


async def closed(stream: trio.abc.Stream) -> bool:
    with trio.move_on_after(1):
        return await stream.receive_some(1) == b""
    return False


async def test_requests_are_checked_against_the_schema_before_the_handler() -> None:
    rpc = server()
    async with trio.open_nursery() as nursery:
        client, reader = await connect(nursery, rpc)
        assert await ask(client, reader, {"id": 1, "method": "echo", "params": {"n": 4}}) == {
            "id": 1,
            "result": 4,
        }
        for params in ({"n": 2**63}, {"n": [1]}, {"n": {"a": 1}}, {"n": "4"}, {"n": 1, "x": 0}, {}):
            answer = await ask(client, reader, {"id": 2, "method": "echo", "params": params})
            assert answer["id"] == 2 and answer["error"].startswith("bad request for echo")
        answer = await ask(client, reader, {"id": 3, "method": "nope"})
        assert answer == {"id": 3, "error": "unknown client method 'nope'"}
        answer = await ask(client, reader, {"id": 4, "method": "echo", "params": {"n": 9}})
        assert answer["result"] == 9  # the connection survived every refusal
        nursery.cancel_scope.cancel()


async def test_a_malformed_envelope_is_answered_then_the_connection_closed() -> None:
    for frame in (b"\xc1", pack([1, 2]), pack({"id": 2**63, "method": "echo"}), pack({"m": 1})):
        rpc = server()
        async with trio.open_nursery() as nursery:
            client, reader = await connect(nursery, rpc)
            await client.send_all(encode_frame(frame))
            answer = unpack(await reader.receive())
            assert answer["id"] is None and answer["error"].startswith("malformed request")
            assert await closed(client)


async def test_a_failing_handler_costs_one_error_answer_and_a_log_line() -> None:
    rpc = server()
    async with trio.open_nursery() as nursery:
        client, reader = await connect(nursery, rpc)
        with capture_logs() as logs:
            answer = await ask(client, reader, {"id": 1, "method": "broken"})
        assert "failed inside the node" in answer["error"]
        assert [e["event"] for e in logs] == ["api_request_failed"]
        answer = await ask(client, reader, {"id": 2, "method": "refuses"})
        assert answer == {"id": 2, "error": "refuses: not like that"}
        assert (await ask(client, reader, {"id": 3, "method": "echo", "params": {"n": 1}}))[
            "result"
        ] == 1
        nursery.cancel_scope.cancel()


async def test_an_oversized_frame_is_refused_from_its_header() -> None:
    rpc = server()
    async with trio.open_nursery() as nursery:
        client, reader = await connect(nursery, rpc)
        await client.send_all((24 * 1024 * 1024).to_bytes(4, "big"))
        answer = unpack(await reader.receive())
        assert "exceeds the limit of 1024" in answer["error"]
        assert await closed(client)
        assert rpc.buffered == 0


async def test_idle_and_half_sent_connections_are_closed_after_the_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    rpc = server()
    async with trio.open_nursery() as nursery:
        idle, _ = await connect(nursery, rpc)
        half, _ = await connect(nursery, rpc)
        await half.send_all(encode_frame(pack({"id": 1, "method": "echo"}))[:-3])
        await trio.sleep(TIMEOUT_S / 2)
        assert rpc.connections == 2 and rpc.buffered > 0
        await trio.sleep(TIMEOUT_S)
        assert rpc.connections == 0 and rpc.buffered == 0
        assert await closed(idle) and await closed(half)


async def test_a_connection_beyond_the_cap_evicts_the_longest_waiting_one(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Idle connections once held every slot for their whole timeout, locking clients out."""
    rpc = server(max_connections=2)
    async with trio.open_nursery() as nursery:
        first, _ = await connect(nursery, rpc)
        second, second_reader = await connect(nursery, rpc)
        third, third_reader = await connect(nursery, rpc)
        assert await closed(first)  # waited longest for a request
        assert rpc.connections == 2
        for stream, reader in ((second, second_reader), (third, third_reader)):
            answer = await ask(stream, reader, {"id": 1, "method": "echo", "params": {"n": 3}})
            assert answer["result"] == 3
        nursery.cancel_scope.cancel()


async def test_connections_beyond_the_cap_are_refused_while_all_are_busy(
    autojump_clock: trio.testing.MockClock,
) -> None:
    started = trio.Event()

    async def hangs(_: NoParams) -> None:
        started.set()
        await trio.sleep_forever()

    methods = {"hang": Method(NoParams, hangs)}
    rpc = RpcServer("client", methods, Limits(1024, max_connections=1))
    async with trio.open_nursery() as nursery:
        busy, _ = await connect(nursery, rpc)
        await busy.send_all(encode_frame(pack({"id": 1, "method": "hang"})))
        await started.wait()
        extra, extra_reader = await connect(nursery, rpc)
        assert "too many connections" in unpack(await extra_reader.receive())["error"]
        assert await closed(extra) and rpc.connections == 1
        nursery.cancel_scope.cancel()


async def test_unfinished_requests_share_one_byte_budget() -> None:
    rpc = server(max_buffered_bytes=1500)
    async with trio.open_nursery() as nursery:
        first, _ = await connect(nursery, rpc)
        second, second_reader = await connect(nursery, rpc)
        await first.send_all((1000).to_bytes(4, "big") + bytes(900))
        await trio.testing.wait_all_tasks_blocked()
        await second.send_all((1000).to_bytes(4, "big") + bytes(900))
        answer = unpack(await second_reader.receive())
        assert "too many unfinished requests" in answer["error"]
        assert await closed(second)
        assert rpc.buffered == 904  # the first connection's bytes only
        nursery.cancel_scope.cancel()
    assert rpc.buffered == 0


async def test_a_gate_refusal_closes_the_connection_before_the_method_runs() -> None:
    calls: list[int] = []

    async def counted(params: EchoParams) -> int:
        calls.append(params.n)
        return params.n

    def gate(request) -> None:
        raise Refused("go away")

    rpc = RpcServer("admin", {"echo": Method(EchoParams, counted)}, Limits(1024), gate=gate)
    async with trio.open_nursery() as nursery:
        client, reader = await connect(nursery, rpc)
        answer = await ask(client, reader, {"id": 1, "method": "echo", "params": {"n": 1}})
        assert answer == {"id": 1, "error": "go away"} and calls == []
        assert await closed(client)


async def test_a_reply_can_act_after_its_answer_and_stream_events() -> None:
    done: list[str] = []

    async def events():
        for n in range(3):
            yield n

    async def subscribe(_: NoParams) -> Reply:
        return Reply("ok", then=lambda: done.append("then"), events=events())

    rpc = RpcServer("client", {"sub": Method(NoParams, subscribe)}, Limits(1024))
    async with trio.open_nursery() as nursery:
        client, reader = await connect(nursery, rpc)
        assert await ask(client, reader, {"id": 7, "method": "sub"}) == {"id": 7, "result": "ok"}
        assert [unpack(await reader.receive()) for _ in range(3)] == [
            {"id": 7, "event": n} for n in range(3)
        ]
        assert done == ["then"] and await closed(client)


@pytest.mark.parametrize("method", ["echo", "broken"])
async def test_every_answer_carries_the_request_id(method: str) -> None:
    rpc = server()
    outcome = await rpc.answer(pack({"id": 42, "method": method, "params": {"n": 1}}))
    assert outcome.message["id"] == 42


async def connect_from(
    nursery: trio.Nursery, rpc: RpcServer, host: str
) -> tuple[trio.abc.Stream, FrameReader]:
    """A connection the server counts as coming from ``host`` (a label: nothing dials it)."""
    client, served = trio.testing.memory_stream_pair()
    nursery.start_soon(rpc.handle, served, host)
    await trio.testing.wait_all_tasks_blocked()
    return client, FrameReader(client, 1 << 20)


async def test_one_remote_address_gets_at_most_its_share_of_connections(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """On a public port one client must not hold every slot: past its cap a new connection
    from that address is told why and closed, while other addresses still get in."""
    rpc = server(max_connections=8, connections_per_host=2)
    async with trio.open_nursery() as nursery:
        held = [await connect_from(nursery, rpc, "203.0.113.5") for _ in range(2)]
        extra, extra_reader = await connect_from(nursery, rpc, "203.0.113.5")
        error = unpack(await extra_reader.receive())["error"]
        assert error == "too many connections from 203.0.113.5 (2); close one and retry"
        assert await closed(extra)
        other, other_reader = await connect_from(nursery, rpc, "198.51.100.7")
        answer = await ask(other, other_reader, {"id": 1, "method": "echo", "params": {"n": 2}})
        assert answer["result"] == 2
        for stream, reader in held:  # the first two were not disturbed
            answer = await ask(stream, reader, {"id": 2, "method": "echo", "params": {"n": 1}})
            assert answer["result"] == 1
        assert rpc.per_host == {"203.0.113.5": 2, "198.51.100.7": 1}
        await held[0][0].aclose()
        await trio.testing.wait_all_tasks_blocked()
        assert rpc.per_host["203.0.113.5"] == 1
        again, again_reader = await connect_from(nursery, rpc, "203.0.113.5")
        answer = await ask(again, again_reader, {"id": 3, "method": "echo", "params": {"n": 5}})
        assert answer["result"] == 5  # a closed connection gave its slot back
        nursery.cancel_scope.cancel()


async def test_requests_over_the_rate_get_an_error_and_the_connection_stays(
    autojump_clock: trio.testing.MockClock,
) -> None:
    rpc = RpcServer("client", {"echo": Method(EchoParams, echo)}, Limits(1024, requests_per_s=5))
    async with trio.open_nursery() as nursery:
        client, reader = await connect_from(nursery, rpc, "203.0.113.5")
        answers = [
            await ask(client, reader, {"id": i, "method": "echo", "params": {"n": 1}})
            for i in range(8)
        ]
        assert [a.get("result") for a in answers] == [1] * 5 + [None] * 3
        for answer in answers[5:]:
            assert answer["error"].startswith("rate limited: over 5 requests per second")
        assert [a["id"] for a in answers] == list(range(8))
        await trio.sleep(1)  # a second refills the bucket
        answer = await ask(client, reader, {"id": 9, "method": "echo", "params": {"n": 3}})
        assert answer == {"id": 9, "result": 3}
        nursery.cancel_scope.cancel()


async def test_a_client_that_ignores_rate_errors_is_closed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Refusals cost the node too: a second's worth of them in a row ends the connection."""
    rpc = RpcServer("client", {"echo": Method(EchoParams, echo)}, Limits(1024, requests_per_s=5))
    async with trio.open_nursery() as nursery:
        client, reader = await connect_from(nursery, rpc, "203.0.113.5")
        request = {"method": "echo", "params": {"n": 1}}
        answers = [await ask(client, reader, {"id": i, **request}) for i in range(11)]
        assert [a.get("result") for a in answers] == [1] * 5 + [None] * 6
        assert answers[-1]["error"].endswith("6 refused in a row; closing")
        assert all(a["error"].endswith("retry later") for a in answers[5:10])
        assert await closed(client) and rpc.connections == 0
        nursery.cancel_scope.cancel()


async def test_loopback_and_unnamed_clients_are_under_neither_cap() -> None:
    """Local tools share 127.0.0.1 and check thousands of transactions on one connection."""
    rpc = server(connections_per_host=1, requests_per_s=2)
    async with trio.open_nursery() as nursery:
        client, reader = await connect(nursery, rpc)
        second, second_reader = await connect(nursery, rpc)
        for i in range(10):
            answer = await ask(client, reader, {"id": i, "method": "echo", "params": {"n": 1}})
            assert answer["result"] == 1
        answer = await ask(second, second_reader, {"id": 1, "method": "echo", "params": {"n": 4}})
        assert answer["result"] == 4 and rpc.per_host == {}
        nursery.cancel_scope.cancel()


def test_the_client_port_takes_its_bounds_from_node_params() -> None:
    from types import SimpleNamespace

    from sequencer_net.api_protocol import MAX_REQUEST_FRAME
    from sequencer_net.node_params import NodeParams
    from sequencer_net.runtime.client_api import ClientApi

    params = NodeParams(
        client_max_connections=9, client_connections_per_host=3, client_requests_per_s=7
    )
    api = ClientApi(SimpleNamespace(config=SimpleNamespace(params=params)))  # type: ignore[arg-type]
    assert api.rpc.limits == Limits(
        MAX_REQUEST_FRAME, max_connections=9, connections_per_host=3, requests_per_s=7
    )
