"""One framed request loop for a node's client and admin APIs: the schema first, then work.

Every request is decoded against a msgspec schema, the envelope and then the method's params,
before a handler sees it, so a wrong type, a bad length or an integer out of range gets an
error answer and never becomes an exception inside the node. A handler that fails anyway is
answered with an error and logged; the connection and the node go on.

The loop also bounds what clients can make a node hold: at most ``max_connections`` at once,
each request whole within ``request_timeout_s`` of the last (an idle or half-sent connection is
closed), and the bytes of unfinished requests, summed over all connections, under
``max_buffered_bytes``. When every connection is taken, a new one evicts the connection that
has waited longest for (the rest of) a request, so idle or half-sent connections cannot lock
clients out; only when all are busy answering or streaming is the new one refused. Answers
too must leave within the timeout, so a client that stops reading cannot pin its connection
either.

A public client port needs two more bounds, so one client cannot starve the others: at most
``connections_per_host`` connections from one remote address, and at most ``requests_per_s``
requests per connection, a token bucket holding one second's worth; a request beyond it is
answered with an error saying so, and the connection stays open, unless it goes on sending
a second's worth of requests more without one allowed (then it is closed, so a client that
ignores the answers costs the node no more than one that obeys them). Loopback is exempt from
both: the local tools (the load generator, a test checking thousands of transactions) all
come from it, and whoever runs them runs the node.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
import structlog
import trio

from ..api_protocol import pack
from ..net import ConnectionLost, FrameDecoder, FrameError, NetError, send_frame
from ..net.framing import RECEIVE_CHUNK_BYTES

log = structlog.get_logger()

EMPTY_MAP = msgspec.Raw(b"\x80")  # msgpack's empty map: a request without params
MAX_REQUEST_ID = 2**63 - 1


class Request(msgspec.Struct, forbid_unknown_fields=True):
    """The envelope; ``params`` stays raw until the method's own schema decodes it."""

    method: Annotated[str, msgspec.Meta(max_length=64)]
    id: Annotated[int, msgspec.Meta(ge=0, le=MAX_REQUEST_ID)] | None = None
    params: msgspec.Raw = EMPTY_MAP


class NoParams(msgspec.Struct, forbid_unknown_fields=True):
    """The params of a method that takes none."""


@dataclass(frozen=True)
class Reply:
    """A handler's answer with something to do after it is sent: ``then`` runs once the
    answer left (a change that may stop the node), ``events`` turns the connection into a
    stream of ``{"id", "event"}`` frames."""

    result: Any
    then: Callable[[], None] | None = None
    events: AsyncIterator[Any] | None = None


@dataclass(frozen=True)
class Method:
    params: type[msgspec.Struct]
    handler: Callable[[Any], Awaitable[Any]]


@dataclass(frozen=True)
class Limits:
    max_frame_bytes: int
    max_connections: int = 64
    max_buffered_bytes: int = 64 * 1024 * 1024
    request_timeout_s: float = 30.0
    connections_per_host: int | None = None  # None: no per-address cap
    requests_per_s: float | None = None  # per connection; None: unlimited


class RateLimit:
    """A token bucket: ``rate`` requests a second, up to one second's worth saved up.
    ``refused`` counts the requests refused since the last one allowed."""

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.at = now
        self.refused = 0

    def take(self, now: float) -> bool:
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            self.refused += 1
            return False
        self.tokens -= 1
        self.refused = 0
        return True

    @property
    def exhausted(self) -> bool:
        """Refused a second's worth in a row: the client is not listening."""
        return self.refused > self.rate


def remote_host(stream: trio.abc.Stream) -> str | None:
    """The address a socket stream comes from; None for loopback and for other streams."""
    if not isinstance(stream, trio.SocketStream):
        return None
    try:
        host = str(stream.socket.getpeername()[0])
    except (OSError, IndexError):
        return None
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:  # a scoped IPv6 address (fe80::1%eth0): counted as it is
        return host
    ip = getattr(ip, "ipv4_mapped", None) or ip  # ::ffff:127.0.0.1 on a dual-stack port
    return None if ip.is_loopback else str(ip)


@dataclass(frozen=True)
class Outcome:
    """What one request frame led to: the answer to send, whether the connection stays
    open, and the handler's reply (None for an error answer)."""

    message: dict[str, Any]
    keep_open: bool = True
    reply: Reply | None = None


def decode_schema(decoder: msgspec.msgpack.Decoder[Any], data: bytes) -> Any:
    """``decoder.decode(data)``, with nesting too deep to decode refused like any other
    schema error: msgspec walks nested arrays and maps (a ``Raw`` field or an ``object`` one
    is skipped or built by recursion) and stops at the interpreter's recursion limit with a
    RecursionError, which would otherwise escape the request loop and stop the node."""
    try:
        return decoder.decode(data)
    except RecursionError:
        raise msgspec.DecodeError("nested too deeply") from None


class Refused(Exception):
    """Raised by a gate: answer this error and close the connection."""


class RpcServer:
    """Serves ``methods`` on any trio stream. ``gate`` sees each request before its method
    does (the admin token check) and may refuse it with :class:`Refused`."""

    def __init__(
        self,
        api: str,
        methods: Mapping[str, Method],
        limits: Limits,
        gate: Callable[[Request], None] | None = None,
    ) -> None:
        self.api = api
        self.methods = dict(methods)
        self.limits = limits
        self._gate = gate
        self._envelope = msgspec.msgpack.Decoder(Request)
        self._params = {name: msgspec.msgpack.Decoder(m.params) for name, m in methods.items()}
        self.connections = 0
        self.buffered = 0
        self.per_host: Counter[str] = Counter()
        # Connections waiting for (the rest of) a request, oldest first: evicted when full.
        self._waiting: dict[object, trio.CancelScope] = {}

    async def handle(self, stream: trio.abc.Stream, host: str | None = None) -> None:
        """One connection, from its first request to its close; ``host`` is where it comes
        from (found from the socket when not given; None, as loopback is, is under neither
        the per-address cap nor the rate limit)."""
        host = host or remote_host(stream)
        cap = self.limits.connections_per_host
        try:
            if host is not None and cap is not None and self.per_host[host] >= cap:
                # debug: on a public port a flood of these must not flood the log too
                log.debug("api_connection_refused", api=self.api, reason="too many from host")
                error = f"too many connections from {host} ({cap}); close one and retry"
                await self._send(stream, {"id": None, "error": error})
                return
            if self.connections >= self.limits.max_connections and not self._evict():
                log.warning("api_connection_refused", api=self.api, reason="too many connections")
                limit = self.limits.max_connections
                await self._send(stream, {"id": None, "error": f"too many connections ({limit})"})
                return
            self.connections += 1
            if host is not None:
                self.per_host[host] += 1
            try:
                await self._serve(stream, host)
            finally:
                self.connections -= 1
                if host is not None:
                    self.per_host[host] -= 1
                    if not self.per_host[host]:
                        del self.per_host[host]
        except (NetError, trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            await trio.aclose_forcefully(stream)

    def _evict(self) -> bool:
        """Close the connection that has waited longest for a request, making room; False if
        every connection is busy (or evictions already wait to take effect)."""
        if not self._waiting or self.connections >= 2 * self.limits.max_connections:
            return False
        oldest = next(iter(self._waiting))
        self._waiting.pop(oldest).cancel()
        log.info("api_connection_evicted", api=self.api, reason="room for a new connection")
        return True

    async def _serve(self, stream: trio.abc.Stream, host: str | None) -> None:
        decoder = FrameDecoder(self.limits.max_frame_bytes)
        rate = self.limits.requests_per_s
        limited = rate is not None and host is not None
        bucket = RateLimit(rate, trio.current_time()) if limited and rate else None
        try:
            while True:
                try:
                    frame = await self._receive(stream, decoder)
                except FrameError as exc:
                    await self._send(stream, {"id": None, "error": f"bad frame: {exc}"})
                    return
                if frame is None:
                    return
                if bucket is not None and not bucket.take(trio.current_time()):
                    outcome = self.rate_limited(frame, bucket)
                else:
                    outcome = await self.answer(frame)
                await self._send(stream, outcome.message)
                reply = outcome.reply
                if reply is not None and reply.then is not None:
                    reply.then()
                if reply is not None and reply.events is not None:
                    await self._stream(stream, outcome.message["id"], reply.events)
                    return
                if not outcome.keep_open:
                    return
        finally:
            self.buffered -= decoder.buffered

    def rate_limited(self, frame: bytes, bucket: RateLimit) -> Outcome:
        """The answer to a request over this connection's rate: an error with its id (the
        envelope alone is decoded), the connection kept unless the client keeps on."""
        try:
            request_id = decode_schema(self._envelope, frame).id
        except msgspec.MsgspecError as exc:
            return Outcome({"id": None, "error": f"malformed request: {exc}"}, keep_open=False)
        rate = f"over {bucket.rate:g} requests per second on this connection"
        if bucket.exhausted:
            log.debug("api_connection_closed", api=self.api, reason="rate limited")
            error = f"rate limited: {rate}, {bucket.refused} refused in a row; closing"
            return Outcome({"id": request_id, "error": error}, keep_open=False)
        return Outcome({"id": request_id, "error": f"rate limited: {rate}; retry later"})

    async def answer(self, frame: bytes) -> Outcome:
        """The answer to one request frame: sans-IO except for the handler's own awaits."""
        try:
            request = decode_schema(self._envelope, frame)
        except msgspec.MsgspecError as exc:
            return Outcome({"id": None, "error": f"malformed request: {exc}"}, keep_open=False)
        request_id = request.id
        if self._gate is not None:
            try:
                self._gate(request)
            except Refused as exc:
                return Outcome({"id": request_id, "error": str(exc)}, keep_open=False)
        method = self.methods.get(request.method)
        if method is None:
            error = f"unknown {self.api} method {request.method!r}"
            return Outcome({"id": request_id, "error": error})
        try:
            params = decode_schema(self._params[request.method], request.params)
        except msgspec.MsgspecError as exc:
            return Outcome({"id": request_id, "error": f"bad request for {request.method}: {exc}"})
        try:
            result = await method.handler(params)
        except (TypeError, ValueError) as exc:
            return Outcome({"id": request_id, "error": f"{request.method}: {exc}"})
        except Exception as exc:  # a bug must cost one answer, never the node
            log.error("api_request_failed", api=self.api, method=request.method, error=repr(exc))
            error = f"{request.method} failed inside the node (logged as api_request_failed)"
            return Outcome({"id": request_id, "error": error})
        reply = result if isinstance(result, Reply) else Reply(result)
        return Outcome({"id": request_id, "result": reply.result}, reply=reply)

    async def _receive(self, stream: trio.abc.Stream, decoder: FrameDecoder) -> bytes | None:
        """The next request frame, or None when the client closed or let the time run out.
        Raises FrameError for an oversized frame or when the shared buffer budget is spent."""
        held = decoder.buffered
        token = object()
        try:
            with trio.move_on_after(self.limits.request_timeout_s) as scope:
                if (frame := decoder.next_frame()) is not None:
                    return frame
                self._waiting[token] = scope
                while (frame := decoder.next_frame()) is None:
                    data = await stream.receive_some(RECEIVE_CHUNK_BYTES)
                    if not data:
                        return None
                    if self.buffered + len(data) > self.limits.max_buffered_bytes:
                        raise FrameError("the node holds too many unfinished requests; retry")
                    decoder.feed(data)
                    self.buffered += len(data)
                    held += len(data)
                return frame
            return None
        finally:
            self._waiting.pop(token, None)
            self.buffered -= held - decoder.buffered

    async def _send(self, stream: trio.abc.Stream, message: dict[str, Any]) -> None:
        with trio.move_on_after(self.limits.request_timeout_s) as scope:
            await send_frame(stream, pack(message))
        if scope.cancelled_caught:
            raise ConnectionLost("the client stopped reading answers")

    async def _stream(self, stream: trio.abc.Stream, request_id: Any, events: AsyncIterator[Any]):
        async with contextlib.aclosing(events):  # type: ignore[type-var]
            async for event in events:
                await self._send(stream, {"id": request_id, "event": event})
