"""The admin API of a node: switch faults on and off and cut peers off at run time.

A listener of its own, apart from the client API, bound to loopback only, with the client
API's framing (``u32 length | msgpack`` maps, see :mod:`sequencer_net.api_protocol`). Every
request carries the node's own admin token (DIR/nK/admin_token) in its params; a wrong or
missing token gets an error answer, a warning in the log, and the connection closed, since
anyone who can reach the port could otherwise make the node byzantine.

Methods: ``fault_set(spec)``, ``fault_clear(behaviour=None)`` (None clears all),
``fault_list()``, ``partition(peers)`` (replaces the cut), ``heal()``. Each answers with the
node's fault state: ``{"faults": [spec, ...], "partitioned_from": [name, ...]}``.
``consensus_state()`` answers with the consensus dump (see ``Driver.dump``), the timeouts
running and the fault state; it changes nothing.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable
from typing import Annotated, Any

import msgspec
import structlog
import trio

from ..faults import FaultLayer, check_behaviour, parse_fault
from .rpc import Limits, Method, Refused, Reply, Request, RpcServer, decode_schema

log = structlog.get_logger()

MAX_ADMIN_FRAME = 64 * 1024  # requests are a method name, a token and a few words
MAX_ADMIN_CONNECTIONS = 16
Name = Annotated[str, msgspec.Meta(max_length=64)]


class Authenticated(msgspec.Struct, forbid_unknown_fields=True):
    """Every admin request's params carry the node's token."""

    token: Annotated[str, msgspec.Meta(max_length=256)]


class TokenOnly(msgspec.Struct):
    """What the gate reads before anything else: the token, other fields ignored."""

    token: object = None


class FaultSetParams(Authenticated):
    spec: Annotated[str, msgspec.Meta(max_length=256)]


class FaultClearParams(Authenticated):
    behaviour: Name | None = None  # None clears all


class PartitionParams(Authenticated):
    peers: Annotated[list[Name], msgspec.Meta(max_length=1024)]


class AdminServer:
    """Serves the admin API for one node's fault layer; ``on_change`` lets the node apply what
    the layer alone cannot (the replica's censor predicate, a crash height already passed)."""

    def __init__(
        self,
        layer: FaultLayer,
        token: str,
        on_change: Callable[[], None],
        consensus: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.layer = layer
        self._consensus = consensus
        self._token = token.encode()
        self._on_change = on_change
        self._token_reader = msgspec.msgpack.Decoder(TokenOnly)
        self.rpc = RpcServer(
            "admin",
            {
                "fault_set": Method(FaultSetParams, self._fault_set),
                "fault_clear": Method(FaultClearParams, self._fault_clear),
                "fault_list": Method(Authenticated, self._fault_list),
                "partition": Method(PartitionParams, self._partition),
                "heal": Method(Authenticated, self._heal),
                "consensus_state": Method(Authenticated, self._consensus_state),
            },
            Limits(MAX_ADMIN_FRAME, max_connections=MAX_ADMIN_CONNECTIONS),
            gate=self._check_token,
        )

    async def serve(
        self, host: str, port: int, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen on ``host`` (which must be loopback); reports the bound port when started."""
        if not _is_loopback(host):
            raise ValueError(f"the admin API listens on loopback only, not {host}")
        listeners = await trio.open_tcp_listeners(port, host=host)
        task_status.started(listeners[0].socket.getsockname()[1])
        await trio.serve_listeners(self.rpc.handle, listeners)

    def _check_token(self, request: Request) -> None:
        """Refuse (and close) before the method or its params are looked at."""
        try:
            token = decode_schema(self._token_reader, request.params).token
        except msgspec.MsgspecError:
            token = None
        if not (isinstance(token, str) and hmac.compare_digest(token.encode(), self._token)):
            log.warning("admin_refused", reason="wrong or missing admin token")
            raise Refused("wrong or missing admin token")

    def report(self) -> dict[str, list[str]]:
        return {
            "faults": [str(f) for f in self.layer.active],
            "partitioned_from": self.layer.partitioned_from,
        }

    def _changed(self) -> Reply:
        # After the answer: a change may stop the node (a crash height passed).
        return Reply(self.report(), then=self._on_change)

    async def _fault_set(self, params: FaultSetParams) -> Reply:
        self.layer.set(parse_fault(params.spec))
        return self._changed()

    async def _fault_clear(self, params: FaultClearParams) -> Reply:
        if params.behaviour is not None:
            check_behaviour(params.behaviour)
        self.layer.clear(params.behaviour)
        return self._changed()

    async def _fault_list(self, _: Authenticated) -> Reply:
        return self._changed()

    async def _partition(self, params: PartitionParams) -> Reply:
        self.layer.partition(params.peers)
        return self._changed()

    async def _heal(self, _: Authenticated) -> Reply:
        self.layer.heal()
        return self._changed()

    async def _consensus_state(self, _: Authenticated) -> dict[str, Any]:
        if self._consensus is None:
            raise ValueError("this node serves no consensus state")
        return {**self._consensus(), **self.report()}


def _is_loopback(host: str) -> bool:
    """An IP literal on loopback; a hostname never counts, since it may resolve elsewhere."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
