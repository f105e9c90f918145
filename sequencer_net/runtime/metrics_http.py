"""The node's metrics endpoint: ``GET /metrics`` over HTTP/1.1 on loopback, served from the
node's own trio loop (h11 parses, trio does the I/O), so a scrape reads the replica in the
same thread that changes it.

One request per connection, then close: Prometheus opens few connections and this keeps the
server small. A client gets REQUEST_TIMEOUT_S to send its request head (at most h11's
MAX_HEAD_BYTES) and at most MAX_CONNECTIONS are served at once; anything else is closed, so a
slow or hostile client cannot hold the node's memory or stall consensus.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from http import HTTPStatus

import h11
import trio
from prometheus_client import CONTENT_TYPE_LATEST

PATH = "/metrics"
REQUEST_TIMEOUT_S = 5.0
MAX_HEAD_BYTES = 16 * 1024
MAX_CONNECTIONS = 16
READ_CHUNK = 4096


class MetricsServer:
    """``render`` returns the scrape's body; it runs in the trio thread for each request."""

    def __init__(self, render: Callable[[], bytes]) -> None:
        self._render = render
        self._slots = trio.CapacityLimiter(MAX_CONNECTIONS)

    async def serve(
        self, host: str, port: int, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen on ``host`` (which must be loopback); reports the bound port when started."""
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the metrics endpoint listens on loopback only, not {host}")
        listeners = await trio.open_tcp_listeners(port, host=host)
        task_status.started(listeners[0].socket.getsockname()[1])
        await trio.serve_listeners(self._handle, listeners)

    async def _handle(self, stream: trio.SocketStream) -> None:
        async with stream:
            try:
                self._slots.acquire_nowait()
            except trio.WouldBlock:
                return  # too many at once: close this one
            try:
                with trio.move_on_after(REQUEST_TIMEOUT_S):
                    await self._answer(stream)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass  # the client went away
            finally:
                self._slots.release()

    async def _answer(self, stream: trio.SocketStream) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        try:
            request = await _request(stream, conn)
        except h11.RemoteProtocolError as exc:
            await _send(stream, conn, exc.error_status_hint, b"bad request\n")
            return
        if request is None:
            return
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
