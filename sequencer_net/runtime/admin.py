"""The admin API of a node: switch faults on and off and cut peers off at run time.

A listener of its own, apart from the client API, bound to loopback only, with the client
API's framing (``u32 length | msgpack`` maps, see :mod:`sequencer_net.api_protocol`). Every
request carries the cluster's admin token in its params; a wrong or missing token gets an
error answer, a warning in the log, and the connection closed, since anyone who can reach the
port could otherwise make the node byzantine.

Methods: ``fault_set(spec)``, ``fault_clear(behaviour=None)`` (None clears all),
``fault_list()``, ``partition(peers)`` (replaces the cut), ``heal()``. Each answers with the
node's fault state: ``{"faults": [spec, ...], "partitioned_from": [name, ...]}``.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable
from typing import Any

import structlog
import trio

from ..api_protocol import ApiError, pack, unpack
from ..faults import FaultLayer, FaultSpecError, check_behaviour, parse_fault
from ..net import FrameReader, NetError, send_frame

log = structlog.get_logger()

MAX_ADMIN_FRAME = 64 * 1024  # requests are a method name, a token and a few words


class AdminServer:
    """Serves the admin API for one node's fault layer; ``on_change`` lets the node apply what
    the layer alone cannot (the replica's censor predicate, a crash height already passed)."""

    def __init__(self, layer: FaultLayer, token: str, on_change: Callable[[], None]) -> None:
        self.layer = layer
        self._token = token.encode()
        self._on_change = on_change

    async def serve(
        self, host: str, port: int, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen on ``host`` (which must be loopback); reports the bound port when started."""
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the admin API listens on loopback only, not {host}")
        listeners = await trio.open_tcp_listeners(port, host=host)
        task_status.started(listeners[0].socket.getsockname()[1])
        await trio.serve_listeners(self._handle, listeners)

    async def _handle(self, stream: trio.SocketStream) -> None:
        reader = FrameReader(stream, MAX_ADMIN_FRAME)
        try:
            while True:
                try:
                    request = unpack(await reader.receive())
                except ApiError as exc:
                    await send_frame(stream, pack({"id": None, "error": str(exc)}))
                    return
                params = request.get("params")
                params = dict(params) if isinstance(params, dict) else {}
                if not self._authorised(params.pop("token", None)):
                    log.warning("admin_refused", reason="wrong or missing admin token")
                    answer = {"id": request.get("id"), "error": "wrong or missing admin token"}
                    await send_frame(stream, pack(answer))
                    return
                answer = self._answer(request, params)
                await send_frame(stream, pack(answer))
                if "result" in answer:
                    # After the answer: a change may stop the node (a crash height passed).
                    self._on_change()
        except (NetError, trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            await stream.aclose()

    def _authorised(self, token: object) -> bool:
        return isinstance(token, str) and hmac.compare_digest(token.encode(), self._token)

    def _answer(self, request: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        request_id = request.get("id")
        method = request.get("method")
        handler = {
            "fault_set": self._fault_set,
            "fault_clear": self._fault_clear,
            "fault_list": lambda: None,
            "partition": self._partition,
            "heal": self.layer.heal,
        }.get(method if isinstance(method, str) else "")
        if handler is None:
            return {"id": request_id, "error": f"unknown admin method {method!r}"}
        try:
            handler(**params)
        except (TypeError, ValueError) as exc:  # FaultSpecError is a ValueError
            return {"id": request_id, "error": f"{method}: {exc}"}
        return {"id": request_id, "result": self.report()}

    def report(self) -> dict[str, list[str]]:
        return {
            "faults": [str(f) for f in self.layer.active],
            "partitioned_from": self.layer.partitioned_from,
        }

    def _fault_set(self, spec: str) -> None:
        if not isinstance(spec, str):
            raise FaultSpecError("spec must be a string such as 'delay 200'")
        self.layer.set(parse_fault(spec))

    def _partition(self, peers: list[str]) -> None:
        if not isinstance(peers, list) or not all(isinstance(p, str) for p in peers):
            raise ValueError("peers must be a list of node names")
        self.layer.partition(peers)

    def _fault_clear(self, behaviour: str | None = None) -> None:
        if behaviour is not None:
            check_behaviour(behaviour)
        self.layer.clear(behaviour)
