"""A sequencer node process: the replica's node logic wired to sockets, files and the clock.

Everything runs in one trio nursery: the peer links, the client API server and one task per
pending timer. The replica is synchronous, and trio switches tasks only at ``await``, so every
call into it is atomic without locks: a peer frame, a client submission or a timer is handled
to completion, and its outputs are carried out, before anything else runs.
"""

from __future__ import annotations

import contextlib
import signal
import time
from pathlib import Path
from typing import Any

import structlog
import trio

from .. import codec
from ..api_protocol import MAX_CLIENT_FRAME, MAX_TXS_PER_SUBMIT, ApiError, pack, unpack
from ..client import parse_address
from ..config import NodeConfig
from ..messages import CommittedBatch, TxGossip, decode_message, encode_message
from ..net import FrameReader, NetError, send_frame
from ..replica import (
    Committed,
    EvidenceFound,
    Output,
    Rejected,
    Replica,
    RoundEntered,
    Send,
    SetTimer,
)
from ..store.signfile import FileSignStateStore
from ..store.sqlite import SqliteChainStore
from ..types import tx_id
from .peers import PeerInfo, PeerManager

log = structlog.get_logger()

SUBSCRIBER_QUEUE = 1024


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Node:
    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        genesis = config.genesis
        self.name = config.name
        self.chain = SqliteChainStore(config.data_dir / "chain.sqlite", genesis.chain_id)
        self.replica = Replica(
            genesis,
            config.key,
            self.chain,
            FileSignStateStore(config.data_dir / "sign_state.bin"),
            config.params,
        )
        self.names = {v.public_key: v.name for v in genesis.validators}
        peers = []
        for v in genesis.validators:
            if v.public_key != config.key.public_key:
                host, port = parse_address(config.addresses[v.name].peer)
                peers.append(PeerInfo(v.name, v.public_key, host, port))
        self.peers = PeerManager(config.key, genesis.chain_id, peers, self._on_frame)
        self._nursery: trio.Nursery | None = None
        self._subscribers: set[trio.MemorySendChannel[dict[str, Any]]] = set()
        self.commits = 0

    # ---- running -------------------------------------------------------------------------

    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        own = self.config.addresses[self.name]
        peer_host, peer_port = parse_address(own.peer)
        client_host, client_port = parse_address(own.client)
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await nursery.start(self.peers.run, peer_host, peer_port)
            listeners = await trio.open_tcp_listeners(client_port, host=client_host)
            nursery.start_soon(trio.serve_listeners, self._serve_client, listeners)
            log.info(
                "node_started", chain_id=self.config.genesis.chain_id, height=self.replica.height
            )
            self._carry_out(self.replica.start(now_ms()))
            task_status.started()

    async def _on_frame(self, peer: bytes, frame: bytes) -> None:
        try:
            message = decode_message(frame)
        except codec.DecodeError as exc:
            log.warning("peer_message_rejected", peer=self.names.get(peer), reason=str(exc))
            return
        self._carry_out(self.replica.receive(peer, message, now_ms()))

    def _carry_out(self, outputs: list[Output]) -> None:
        for output in outputs:
            match output:
                case Send(to, message):
                    frame = encode_message(message)
                    self.peers.send(frame, to, is_gossip=isinstance(message, TxGossip))
                case SetTimer(key, delay_ms):
                    assert self._nursery is not None
                    self._nursery.start_soon(self._timer, key, delay_ms)
                case Committed(entry):
                    self._on_commit(entry)
                case RoundEntered(height, round) if round > 0:
                    log.info("round_started", height=height, round=round)
                case EvidenceFound(evidence):
                    log.warning(
                        "evidence_found",
                        height=evidence.height,
                        offender=self.names.get(evidence.offender),
                        kind=type(evidence).__name__,
                    )
                case Rejected(peer, reason):
                    log.warning(
                        "rejected", peer=self.names.get(peer) if peer else None, reason=reason
                    )

    async def _timer(self, key: tuple[object, ...], delay_ms: int) -> None:
        await trio.sleep(delay_ms / 1000)
        self._carry_out(self.replica.on_timer(key, now_ms()))

    def _on_commit(self, entry: CommittedBatch) -> None:
        header = entry.batch.header
        self.commits += 1
        event = {
            "height": header.height,
            "batch_id": entry.batch.id,
            "round": entry.certificate.round,
            "proposer": self.names.get(header.proposer),
            "txs": len(entry.batch.txs),
            "timestamp_ms": header.timestamp_ms,
            "committed_ms": now_ms(),
        }
        log.info(
            "committed",
            height=header.height,
            round=entry.certificate.round,
            txs=len(entry.batch.txs),
            proposer=event["proposer"],
            batch_id=entry.batch.id.hex()[:16],
        )
        for subscriber in self._subscribers:
            with contextlib.suppress(trio.WouldBlock):
                subscriber.send_nowait(event)

    # ---- client API ----------------------------------------------------------------------

    async def _serve_client(self, stream: trio.SocketStream) -> None:
        reader = FrameReader(stream, MAX_CLIENT_FRAME)
        try:
            while True:
                try:
                    request = unpack(await reader.receive())
                    answer = self._answer(request)
                except ApiError as exc:
                    await send_frame(stream, pack({"id": None, "error": str(exc)}))
                    return
                await send_frame(stream, pack(answer))
                if request.get("method") == "subscribe_commits" and "result" in answer:
                    await self._stream_commits(stream, request.get("id"))
                    return
        except (NetError, trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            await stream.aclose()

    def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        request_id = request.get("id")
        method = request.get("method")
        params = request.get("params") or {}
        handler = {
            "status": self._status,
            "submit": self._submit,
            "tx_status": self._tx_status,
            "batch": self._batch,
            "subscribe_commits": lambda: "ok",
        }.get(method if isinstance(method, str) else "")
        if handler is None:
            return {"id": request_id, "error": f"unknown method {method!r}"}
        try:
            return {"id": request_id, "result": handler(**params)}
        except (TypeError, ValueError) as exc:
            return {"id": request_id, "error": f"bad request for {method}: {exc}"}

    async def _stream_commits(self, stream: trio.SocketStream, request_id: object) -> None:
        """Forward commits to one subscriber; a subscriber too slow to keep up loses events
        rather than slowing the node."""
        send, receive = trio.open_memory_channel[dict[str, Any]](SUBSCRIBER_QUEUE)
        self._subscribers.add(send)
        try:
            async for event in receive:
                await send_frame(stream, pack({"id": request_id, "event": event}))
        finally:
            self._subscribers.discard(send)

    def _status(self) -> dict[str, Any]:
        r = self.replica
        return {
            "name": self.name,
            "chain_id": self.config.genesis.chain_id,
            "height": r.chain.last_height(),
            "round": r.round,
            "step": r.step.name.lower(),
            "proposer": r.validators.proposer_for_round(r.round).name,
            "peers": self.peers.connected(),
            "mempool": len(r.mempool),
            "validators": [
                {"name": v.name, "power": v.power, "jailed": v.jailed}
                for v in r.validators.validators
            ],
            "dropped_frames": self.peers.dropped(),
            "refused_peers": self.peers.refused,
        }

    def _submit(self, txs: list[bytes]) -> list[tuple[bytes | None, str | None]]:
        if not isinstance(txs, list) or len(txs) > MAX_TXS_PER_SUBMIT:
            raise ValueError(
                f"txs must be a list of at most {MAX_TXS_PER_SUBMIT} encoded transactions"
            )
        results: list[tuple[bytes | None, str | None]] = []
        now = now_ms()
        for encoded in txs:
            if not isinstance(encoded, bytes):
                results.append((None, "a transaction must be bytes"))
                continue
            txid, outputs = self.replica.submit(encoded, now)
            reason = next((o.reason for o in outputs if isinstance(o, Rejected)), None)
            self._carry_out(outputs)
            results.append((txid, None if txid is not None else reason or "refused"))
        return results

    def _tx_status(self, txid: bytes) -> dict[str, Any]:
        location = self.chain.tx_location(txid)
        if location is not None:
            return {"status": "committed", "height": location[0], "position": location[1]}
        if txid in self.replica.mempool:
            return {"status": "pending"}
        return {"status": "unknown"}

    def _batch(self, height: int, with_txs: bool = False) -> dict[str, Any] | None:
        entry = self.chain.get(height)
        if entry is None:
            return None
        header, cert = entry.batch.header, entry.certificate
        answer = {
            "height": header.height,
            "batch_id": entry.batch.id,
            "parent_id": header.parent_id,
            "proposer": self.names.get(header.proposer),
            "built_round": header.round,
            "commit_round": cert.round,
            "timestamp_ms": header.timestamp_ms,
            "tx_count": len(entry.batch.txs),
            "tx_ids": [tx_id(tx) for tx in entry.batch.txs],
            "signers": [self.names.get(s.validator) for s in cert.signatures],
        }
        if with_txs:
            answer["txs"] = list(entry.batch.txs)
        return answer


async def serve(config: NodeConfig) -> None:
    """Run a node until SIGTERM or SIGINT, then stop cleanly."""
    node = Node(config)
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            await nursery.start(node.run)

            async def stop_on_signal() -> None:
                async for signum in signals:
                    log.info("node_stopping", signal=signal.Signals(signum).name)
                    nursery.cancel_scope.cancel()

            nursery.start_soon(stop_on_signal)
    node.chain.close()


def configure_logging(log_path: Path, name: str) -> None:
    """JSON lines, one file per node, every record carrying the node's name."""
    log_file = log_path.open("a", buffering=1)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.WriteLoggerFactory(file=log_file),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(node=name)
