"""Peer links for a running node: one authenticated link per other validator.

Of each pair the validator with the smaller key dials and the other accepts, so there is one
link per pair and no tie to break. Each peer has a bounded outbound queue drained by its own
task, so a slow or dead peer never blocks the node or the other peers: when the queue is full,
gossip goes first (oldest first), then the oldest consensus messages (the replica re-sends what
matters). Received frames go to the node's inbox as (peer key, bytes).

Under an emulated WAN (``latency``, from node.toml's ``[network]``) each frame is stamped with
its due time as it is queued (net/delay.py) and the peer's send task holds it until then: the
delay of one peer never holds up another, and one link's frames leave in the order taken.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
import trio

from ..crypto import PrivateKey
from ..net import DEFAULT_MAX_FRAME_BYTES, NetError, SecureLink, handshake
from ..net.delay import DelayLine
from .rpc import remote_host

log = structlog.get_logger()

HANDSHAKE_TIMEOUT_S = 5.0
# A public peer port: strangers may connect, but only a few at a time may hold a handshake
# open (for up to HANDSHAKE_TIMEOUT_S each), so a flood cannot exhaust the node's sockets or
# CPU. The total is above the largest cluster's peer count, so a whole local cluster dialling
# at once (all from loopback, which the per-address cap exempts) is never refused.
MAX_PENDING_HANDSHAKES = 128
MAX_PENDING_PER_HOST = 8
BACKOFF_MIN_S, BACKOFF_MAX_S = 0.1, 3.0


@dataclass
class _Outbox:
    """Bounded per-peer queue; gossip is sacrificed before consensus traffic."""

    limit: int
    consensus: deque[tuple[float, bytes]] = field(default_factory=deque)
    gossip: deque[tuple[float, bytes]] = field(default_factory=deque)
    ready: trio.Event = field(default_factory=trio.Event)
    dropped: int = 0
    delay: DelayLine | None = None  # emulated WAN latency; None sends at once

    def put(self, frame: bytes, is_gossip: bool) -> None:
        due = 0.0 if self.delay is None else self.delay.due(trio.current_time())
        (self.gossip if is_gossip else self.consensus).append((due, frame))
        while len(self.consensus) + len(self.gossip) > self.limit:
            (self.gossip or self.consensus).popleft()
            self.dropped += 1
        self.ready.set()

    def take(self) -> tuple[float, bytes] | None:
        """The next frame and the time it may leave (0 for at once), or None if empty."""
        if self.consensus:
            return self.consensus.popleft()
        if self.gossip:
            return self.gossip.popleft()
        self.ready = trio.Event()
        return None


@dataclass
class _Pending:
    """Inbound handshakes under way: in all, and by remote address."""

    limit: int
    per_host: int
    count: int = 0
    by_host: Counter[str] = field(default_factory=Counter)

    def admit(self, host: str | None) -> bool:
        if self.count >= self.limit or (host is not None and self.by_host[host] >= self.per_host):
            return False
        self.count += 1
        if host is not None:
            self.by_host[host] += 1
        return True

    def release(self, host: str | None) -> None:
        self.count -= 1
        if host is not None:
            self.by_host[host] -= 1
            if not self.by_host[host]:
                del self.by_host[host]


@dataclass(frozen=True)
class PeerInfo:
    name: str
    public_key: bytes
    host: str
    port: int


class PeerManager:
    def __init__(
        self,
        key: PrivateKey,
        chain_id: str,
        peers: list[PeerInfo],
        deliver: Callable[[bytes, bytes], Awaitable[None]],
        queue_limit: int = 4096,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        delays: dict[bytes, DelayLine] | None = None,
    ) -> None:
        """``delays``: an emulated WAN's delay line per peer key; a peer without one has none."""
        self.key = key
        self.chain_id = chain_id
        self.peers = {p.public_key: p for p in peers}
        self._deliver = deliver
        self._max_frame = max_frame_bytes
        delays = delays or {}
        self._outboxes = {
            p.public_key: _Outbox(queue_limit, delay=delays.get(p.public_key)) for p in peers
        }
        self._links: dict[bytes, SecureLink] = {}
        self.refused = 0
        self._pending = _Pending(MAX_PENDING_HANDSHAKES, MAX_PENDING_PER_HOST)
        self.bytes_sent = 0  # payload bytes handed to peer links since start (all peers)

    def connected(self) -> list[str]:
        return sorted(self.peers[k].name for k in self._links)

    def send(self, frame: bytes, to: bytes | None = None, is_gossip: bool = False) -> None:
        """Queue ``frame`` for one peer or, with ``to`` None, for all of them."""
        targets = self._outboxes if to is None else [to]
        for key in targets:
            outbox = self._outboxes.get(key)
            if outbox is not None:
                outbox.put(frame, is_gossip)

    def dropped(self) -> int:
        return sum(o.dropped for o in self._outboxes.values())

    async def run(self, listen_host: str, listen_port: int, task_status=trio.TASK_STATUS_IGNORED):
        async with trio.open_nursery() as nursery:
            listeners = await trio.open_tcp_listeners(listen_port, host=listen_host)
            nursery.start_soon(trio.serve_listeners, self._accept, listeners)
            for peer in self.peers.values():
                if self.key.public_key < peer.public_key:
                    nursery.start_soon(self._dial_forever, peer)
            task_status.started()

    async def _dial_forever(self, peer: PeerInfo) -> None:
        backoff = BACKOFF_MIN_S
        while True:
            try:
                stream = await trio.open_tcp_stream(peer.host, peer.port)
            except OSError:
                await trio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            backoff = BACKOFF_MIN_S
            link = await self._secure(stream, initiator=True, expected=peer.public_key)
            if link is not None:
                await self._serve(link)
            await trio.sleep(BACKOFF_MIN_S)

    async def _accept(self, stream: trio.abc.Stream, host: str | None = None) -> None:
        """An inbound connection; ``host`` is where it comes from (found from the socket when
        not given; None, as loopback is, is under no per-address cap)."""
        host = host or remote_host(stream)
        if not self._pending.admit(host):
            self.refused += 1
            log.debug("peer_refused", reason="too many handshakes pending", host=host)
            await trio.aclose_forcefully(stream)
            return
        try:
            link = await self._secure(stream, initiator=False, expected=None)
        finally:
            self._pending.release(host)
        if link is not None:
            if link.peer_key > self.key.public_key:  # that peer should have been dialled by us
                log.warning(
                    "peer_refused", peer=self.peers[link.peer_key].name, reason="wrong side dialled"
                )
                await link.aclose()
                return
            await self._serve(link)

    async def _secure(
        self, stream: trio.abc.Stream, initiator: bool, expected: bytes | None
    ) -> SecureLink | None:
        allowed = {expected} if expected else set(self.peers)
        with trio.move_on_after(HANDSHAKE_TIMEOUT_S) as scope:
            try:
                return await handshake(
                    stream,
                    self.key,
                    self.chain_id,
                    allowed,
                    initiator,
                    max_frame_bytes=self._max_frame,
                )
            except NetError as exc:
                self.refused += 1
                log.warning("peer_refused", reason=str(exc), initiator=initiator)
                return None
        if scope.cancelled_caught:
            self.refused += 1
            log.warning("peer_refused", reason="handshake timed out", initiator=initiator)
        return None

    async def _serve(self, link: SecureLink) -> None:
        """Run one established link until it fails; a newer link to the same peer replaces it."""
        key = link.peer_key
        name = self.peers[key].name
        old = self._links.get(key)
        if old is not None:
            await old.aclose()
        self._links[key] = link
        log.info("peer_connected", peer=name)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._send_loop, link, nursery.cancel_scope)
                await self._receive_loop(link)
                nursery.cancel_scope.cancel()
        finally:
            if self._links.get(key) is link:
                del self._links[key]
            with trio.CancelScope(shield=True):
                await link.aclose()
            log.info("peer_disconnected", peer=name)

    async def _send_loop(self, link: SecureLink, scope: trio.CancelScope) -> None:
        outbox = self._outboxes[link.peer_key]
        try:
            while True:
                item = outbox.take()
                if item is None:
                    await outbox.ready.wait()
                    continue
                due, frame = item
                if due > trio.current_time():
                    await trio.sleep_until(due)
                await link.send(frame)
                self.bytes_sent += len(frame)
        except NetError:
            scope.cancel()

    async def _receive_loop(self, link: SecureLink) -> None:
        try:
            while True:
                await self._deliver(link.peer_key, await link.receive())
        except NetError as exc:
            log.info("peer_link_closed", peer=self.peers[link.peer_key].name, reason=str(exc))
