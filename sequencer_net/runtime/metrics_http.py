"""The node's metrics endpoint: ``GET /metrics`` over HTTP/1.1 on the configured address
(loopback unless node.toml says otherwise: a scrape is read-only), served from the
node's own trio loop (h11 parses, trio does the I/O), so a scrape reads the replica in the
same thread that changes it.

One request per connection, then close: Prometheus opens few connections and this keeps the
server small. At most MAX_CONNECTIONS are served at once, and idle, slow or hostile clients
cannot starve a scrape: a client gets HEAD_TIMEOUT_S to send its request head (at most
MAX_HEAD_BYTES, else 431), and when every slot is taken a new connection evicts the oldest
one still waiting for its head, so a scraper (which sends its request at once) always gets in.
Only connections being answered are never evicted; they have ANSWER_TIMEOUT_S to take it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from http import HTTPStatus

import h11
import trio
from prometheus_client import CONTENT_TYPE_LATEST

PATH = "/metrics"
HEAD_TIMEOUT_S = 5.0
ANSWER_TIMEOUT_S = 5.0
MAX_HEAD_BYTES = 16 * 1024
MAX_CONNECTIONS = 16
READ_CHUNK = 4096
DRAIN_S = 1.0
MAX_DRAIN_BYTES = 1024 * 1024


class _Slot:
    """One served connection; ``waiting`` is the scope of its head read, None once read."""

    def __init__(self, waiting: trio.CancelScope) -> None:
        self.waiting: trio.CancelScope | None = waiting
        self.held = True


class MetricsServer:
    """``render`` returns the scrape's body; it runs in the trio thread for each request."""

    def __init__(self, render: Callable[[], bytes]) -> None:
        self._render = render
        self._slots: list[_Slot] = []  # oldest first

    async def serve(
        self, host: str, port: int, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen on ``host``; reports the bound port when started."""
        listeners = await trio.open_tcp_listeners(port, host=host)
        task_status.started(listeners[0].socket.getsockname()[1])
        await trio.serve_listeners(self._handle, listeners)

    def _take_slot(self) -> _Slot | None:
        """A slot for a new connection, evicting the oldest one still waiting for its head
        when all are taken; None if every slot is busy answering."""
        if len(self._slots) >= MAX_CONNECTIONS:
            oldest = next((s for s in self._slots if s.waiting is not None), None)
            if oldest is None:
                return None
            self._free(oldest)
            assert oldest.waiting is not None
            oldest.waiting.cancel()
        slot = _Slot(trio.CancelScope(deadline=trio.current_time() + HEAD_TIMEOUT_S))
        self._slots.append(slot)
        return slot

    def _free(self, slot: _Slot) -> None:
        if slot.held:
            slot.held = False
            self._slots.remove(slot)

    async def _handle(self, stream: trio.SocketStream) -> None:
        async with stream:
            slot = self._take_slot()
            if slot is None:
                return  # every slot is busy answering: close this one
            try:
                await self._answer(stream, slot)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass  # the client went away
            finally:
                self._free(slot)

    async def _answer(self, stream: trio.SocketStream, slot: _Slot) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        request: h11.Request | None = None
        error: h11.RemoteProtocolError | None = None
        assert slot.waiting is not None
        with slot.waiting:
            try:
                request = await _request(stream, conn)
            except h11.RemoteProtocolError as exc:
                error = exc
        slot.waiting = None  # answering from here on: not evicted
        with trio.move_on_after(ANSWER_TIMEOUT_S):
            if error is not None:
                await _refuse(stream, conn, error)
            elif request is not None:
                await self._respond(stream, conn, request)
        if error is not None:
            # Read what is left of the refused head before closing, so the client reads the
            # answer rather than a reset; evictable again, and bounded in time and bytes.
            slot.waiting = trio.CancelScope(deadline=trio.current_time() + DRAIN_S)
            with slot.waiting:
                await _drain(stream)

    async def _respond(
        self, stream: trio.SocketStream, conn: h11.Connection, request: h11.Request
    ) -> None:
        target = request.target.split(b"?", 1)[0]
        if request.method not in (b"GET", b"HEAD"):
            await _send(stream, conn, 405, b"only GET\n", [(b"allow", b"GET, HEAD")])
        elif target != PATH.encode():
            await _send(stream, conn, 404, b"not found: the metrics are at /metrics\n")
        else:
            body = self._render()
            head = request.method == b"HEAD"
            content = [(b"content-type", CONTENT_TYPE_LATEST.encode())]
            await _send(stream, conn, 200, body, content, head_only=head)


async def _refuse(
    stream: trio.SocketStream, conn: h11.Connection, error: h11.RemoteProtocolError
) -> None:
    """Answer a malformed or oversized request head with its status (h11 lets a server
    answer after the client's protocol error), then close without reading the rest."""
    status = error.error_status_hint
    message = b"request head too large\n" if status == 431 else b"bad request\n"
    await _send(stream, conn, status, message)


async def _drain(stream: trio.SocketStream) -> None:
    """Discard what the client still sends, after our answer and end of sending."""
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        await stream.send_eof()
        drained = 0
        while drained < MAX_DRAIN_BYTES and (data := await stream.receive_some(READ_CHUNK)):
            drained += len(data)


async def _request(stream: trio.SocketStream, conn: h11.Connection) -> h11.Request | None:
    """The request head, or None if the client closed before sending one."""
    while True:
        event = conn.next_event()
        if isinstance(event, h11.Request):
            return event
        if isinstance(event, h11.ConnectionClosed):
            return None
        if event is h11.NEED_DATA:
            data = await stream.receive_some(READ_CHUNK)
            conn.receive_data(data)  # b"" marks the end, which h11 turns into an event
            continue
        return None  # anything else cannot start a request


async def _send(
    stream: trio.SocketStream,
    conn: h11.Connection,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    head_only: bool = False,
) -> None:
    if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
        return
    fields = [
        *(headers or [(b"content-type", b"text/plain; charset=utf-8")]),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    reason = HTTPStatus(status).phrase.encode()
    data = conn.send(h11.Response(status_code=status, headers=fields, reason=reason))
    if not head_only:
        data = (data or b"") + (conn.send(h11.Data(data=body)) or b"")
    data = (data or b"") + (conn.send(h11.EndOfMessage()) or b"")
    await stream.send_all(data)
