"""A sequencer node process: the replica's node logic wired to sockets, files and the clock.

Everything runs in one trio nursery: the peer links, the client API server, the metrics
endpoint and one task per pending timer. The replica is synchronous, and trio switches tasks
only at ``await``, so every call into it is atomic without locks: a peer frame, a client
submission, a timer or a scrape is handled to completion, and its outputs are carried out,
before anything else runs.
"""

from __future__ import annotations

import errno
import math
import signal
from collections.abc import Awaitable
from typing import Any

import structlog
import trio

from .. import codec
from ..censorship import metrics
from ..config import NodeConfig
from ..config.node_file import shown
from ..config.schema import Endpoint
from ..evidence import SlashRecord
from ..evidence_log import FILENAME as EVIDENCE_LOG
from ..evidence_log import EvidenceLog, make_record, shown_id
from ..faults import Crash, FaultLayer
from ..messages import (
    CommittedBatch,
    ProposalMessage,
    SignedChunk,
    decode_message,
    encode_message,
)
from ..net.delay import DelayLine
from ..replica import (
    Committed,
    Decrypted,
    EvidenceFound,
    InclusionEnforced,
    Output,
    Rejected,
    Replica,
    RoundEntered,
    Send,
    SetTimer,
    Slashed,
    StepTimeout,
    TimerKey,
)
from ..store.signfile import FileSignStateStore
from ..store.sqlite import SqliteChainStore
from ..types import Vote, evidence_id
from .admin import AdminServer
from .client_api import ClientApi
from .clock import now_ms
from .durable import GroupCommit
from .liveness import Liveness
from .logs import CommitSummary
from .metrics import Links, NodeMetrics
from .metrics_http import MetricsServer
from .peers import PeerInfo, PeerManager
from .timers import TimerQueue

log = structlog.get_logger()

METRICS_INTERVAL_S = 1.0
CRASH_EXIT_CODE = 3
GARBAGE_INTERVAL_S = 0.2
LIVENESS_INTERVAL_S = 1.0
SUMMARY_INTERVAL_S = 10.0
# A peer counts as connected if heard within this many rebroadcast intervals; a stall is
# reported after this many round-0 rounds without a commit.
HEARD_WITHIN_REBROADCASTS = 5
STALL_AFTER_ROUNDS = 3


class ListenError(OSError):
    """A port the node must listen on cannot be bound; names the role and the address."""

    def __init__(self, role: str, address: str, cause: OSError) -> None:
        if cause.errno == errno.EADDRINUSE:
            self.reason = "already in use"
            message = f"the {role} port {address} is already in use"
        else:
            self.reason = cause.strerror or str(cause)
            message = f"cannot listen on the {role} port {address}: {self.reason}"
        super().__init__(cause.errno, message)
        self.role = role
        self.address = address

    def __str__(self) -> str:
        return str(self.strerror)


class Node:
    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        genesis = config.genesis
        self.name = config.name
        self.chain = SqliteChainStore(
            config.data_dir / "chain.sqlite", genesis.chain_id, config.params.recent_tx_ids
        )
        self.replica = self._new_replica()
        self.names = {v.public_key: v.name for v in genesis.validators}
        self.evidence_log = EvidenceLog(config.data_dir / EVIDENCE_LOG)
        self._refill_evidence_log()
        peers = []
        for v in genesis.validators:
            if v.public_key != config.key.public_key:
                host, port = config.endpoints[v.name].peer
                peers.append(PeerInfo(v.name, v.public_key, host, port))
        self.peers = PeerManager(
            config.key, genesis.chain_id, peers, self._on_frame, delays=self._wan_delays(peers)
        )
        self.faults = FaultLayer(
            config.key,
            genesis.chain_id,
            {p.public_key: p.name for p in peers},
            self.name,
            config.faults,
        )
        self.faults.threshold_share = config.threshold_share  # for the `leak-shares` fault
        self._delayed_in, self._delayed_out = trio.open_memory_channel[
            tuple[float, bytes | None, bytes, bool]
        ](math.inf)
        self._delayed_pending = 0
        self.exit_code = 0
        self._nursery: trio.Nursery | None = None
        self.commits = 0
        self.acked = GroupCommit(self.chain.add_pending)
        t = genesis.timeouts
        self.liveness = Liveness(
            now_ms(),
            heard_within_ms=HEARD_WITHIN_REBROADCASTS * config.params.rebroadcast_ms,
            stall_after_ms=STALL_AFTER_ROUNDS * (t.propose_ms + t.prevote_ms + t.precommit_ms),
        )
        self.client_api = ClientApi(self)
        self.metrics = NodeMetrics(
            genesis.chain_id,
            config.key.public_key,
            self.names,
            [(r.evidence.offender, r.stake_before) for r in self.chain.slash_records()],
            {n.id: n.name for n in genesis.namespaces},
        )
        self.summary = CommitSummary()
        # The consensus timeouts now running, with their deadlines: what a consensus dump
        # shows. One entry per step timeout in the timer queue, removed when it fires.
        self._step_timers: dict[StepTimeout, int] = {}
        self._timers = TimerQueue[Replica, TimerKey](self._on_timer)

    # ---- running -------------------------------------------------------------------------

    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        config = self.config
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            client = config.client_bind
            listening = {"client": shown(client)}
            listeners = await _listen(
                "client", client, trio.open_tcp_listeners(client.port, host=client.host)
            )
            if config.admin_endpoint is not None:
                assert config.admin_token is not None
                admin = AdminServer(
                    self.faults,
                    config.admin_token,
                    self._faults_changed,
                    consensus=self.consensus_dump,
                )
                await _listen(
                    "admin",
                    config.admin_endpoint,
                    nursery.start(admin.serve, *config.admin_endpoint),
                )
                listening["admin"] = shown(config.admin_endpoint)
            if config.metrics_endpoint is not None:
                server = MetricsServer(self.render_metrics)
                await _listen(
                    "metrics",
                    config.metrics_endpoint,
                    nursery.start(server.serve, *config.metrics_endpoint),
                )
                listening["metrics"] = shown(config.metrics_endpoint)
            # Peers last, then node_started at once: what a peer link logs comes after it, so
            # a reader of the log (risk calibrate) sees where this run of the node begins.
            peer = config.peer_bind
            await _listen("peer", peer, nursery.start(self.peers.run, *peer))
            listening["peer"] = shown(peer)
            # Status answers only now, so a node that answers holds every port it needs.
            nursery.start_soon(trio.serve_listeners, self.client_api.rpc.handle, listeners)
            log.info(
                "node_started",
                chain_id=config.genesis.chain_id,
                height=self.replica.height,
                listening=listening,
                log_level=config.log.level,
                **({"region": config.network.region} if config.network else {}),
            )
            nursery.start_soon(self.acked.run)
            nursery.start_soon(self._timers.run)
            nursery.start_soon(self._send_delayed)
            nursery.start_soon(self._send_garbage)
            nursery.start_soon(self._write_metrics_periodically)
            nursery.start_soon(self._watch_for_stalls)
            nursery.start_soon(self._log_summaries)
            self._faults_changed()  # a crash height already reached stops the node here
            if not self.exit_code:
                self.carry_out(self.replica.start(now_ms()))
                self._reload_pending()
            task_status.started()

    def _reload_pending(self) -> None:
        """Put the transactions acknowledged before a crash back in this node's lane (they
        were perhaps held nowhere else) once it has caught up with the chain, so that those
        the others committed while it was down are not chunked again."""
        self.replica.readmit_when_caught_up(self.chain.pending())

    def _new_replica(self) -> Replica:
        """The node logic over this node's chain and sign state (again after amnesia)."""
        return Replica(
            self.config.genesis,
            self.config.key,
            self.chain,
            FileSignStateStore(self.config.data_dir / "sign_state.bin"),
            self.config.params,
            threshold_share=self.config.threshold_share,
        )

    async def _on_frame(self, peer: bytes, frame: bytes) -> None:
        if not self.faults.accepts_from(peer):
            return  # partitioned: the link stays up, but what comes over it is lost
        self.liveness.heard(peer, now_ms())
        try:
            message = decode_message(frame)
        except codec.DecodeError as exc:
            log.warning("peer_message_rejected", peer=self.names.get(peer), reason=str(exc))
            return
        if isinstance(message, Vote) and message.validator == peer:
            self.metrics.vote_heard(peer, message.height)
        if self.faults.frontrunner is not None and isinstance(message, SignedChunk):
            self.faults.frontrunner.observe(message.chunk.txs)  # the `frontrun` fault reads it
        self.carry_out(self.replica.receive(peer, message, now_ms()))

    def carry_out(self, outputs: list[Output]) -> None:
        self.metrics.observe(outputs, now_ms(), self.replica)
        for output in outputs:
            match output:
                case Send():
                    self._send(output)
                case SetTimer(key, delay_ms):
                    if isinstance(key, StepTimeout):
                        self._step_timers[key] = now_ms() + delay_ms
                    self._timers.set(self.replica, key, delay_ms)
                case Committed(entry):
                    self._on_commit(entry)
                case InclusionEnforced(height, round, proposer, omitted):
                    log.info(
                        "inclusion_enforced",
                        height=height,
                        round=round,
                        proposer=self.names.get(proposer),
                        omitted=omitted,
                    )
                case RoundEntered(height, round) if round > 0:
                    log.info("round_started", height=height, round=round)
                case EvidenceFound(evidence):
                    log.warning(
                        "evidence_found",
                        height=evidence.height,
                        offender=self.names.get(evidence.offender),
                        kind=type(evidence).__name__,
                        evidence_id=shown_id(evidence_id(evidence)),
                    )
                case Slashed(record):
                    self._log_slash(record)
                case Rejected(peer, reason):
                    log.warning(
                        "rejected", peer=self.names.get(peer) if peer else None, reason=reason
                    )
                case Decrypted(height, results):
                    failed = sum(1 for _, plaintext in results if plaintext is None)
                    log.info("decrypted", height=height, txs=len(results), failed=failed)
        self._frontrun()

    def _frontrun(self) -> None:
        """Under the `frontrun` fault: submit the transactions it slipped in to our lane."""
        front = self.faults.frontrunner
        if front is None:
            return
        front.is_committed = lambda txid: self.chain.tx_location(txid) is not None
        for encoded in front.take_injections():
            _, outputs = self.replica.submit(encoded, now_ms())
            log.warning("frontran", victims=len(front.victims))
            self.carry_out(outputs)

    def _log_slash(self, record: SlashRecord) -> None:
        offender = record.evidence.offender
        log.warning(
            "slashed",
            height=record.committed_height,
            offender=self.names.get(offender),
            stake_before=record.stake_before,
            stake_after=record.stake_after,
            evidence_id=shown_id(record.id),
        )
        self.evidence_log.append([make_record(record, self.config.genesis.chain_id, self.names)])

    def _refill_evidence_log(self) -> None:
        """Write the records a crash kept out of evidence.jsonl: the chain store has them all,
        committed in the same transaction as their batch."""
        have = self.evidence_log.ids()
        chain_id = self.config.genesis.chain_id
        self.evidence_log.append(
            make_record(r, chain_id, self.names)
            for r in self.chain.slash_records()
            if r.id.hex() not in have
        )

    def _on_timer(self, replica: Replica, key: TimerKey) -> None:
        if isinstance(key, StepTimeout):
            self._step_timers.pop(key, None)
            if key.height < replica.height:
                return  # a decided height's timeout: the core would ignore it
        if replica is self.replica:  # else an amnesia restart replaced the replica that set it
            outputs = replica.on_timer(key, now_ms())
            self.metrics.timeout_elapsed(key)
            self.carry_out(outputs)

    def _wan_delays(self, peers: list[PeerInfo]) -> dict[bytes, DelayLine]:
        """The emulated WAN's delay line to each peer node.toml gives a latency for."""
        network = self.config.network
        if network is None:
            return {}
        return {
            p.public_key: DelayLine(network.peers[p.name], network.rng(self.name, p.name))
            for p in peers
            if p.name in network.peers
        }

    # ---- faults --------------------------------------------------------------------------

    def _send(self, send: Send) -> None:
        """Pass a replica's send through the fault layer and queue what it lets out."""
        frames: dict[int, bytes] = {}  # a message sent to several peers is encoded once
        for out in self.faults.outgoing(send):
            frame = frames.get(id(out.message))
            if frame is None:
                frame = frames[id(out.message)] = encode_message(out.message)
            self._queue(out.to, frame, isinstance(out.message, SignedChunk))
        if self.faults.amnesia_due(send.message):
            assert self._nursery is not None and isinstance(send.message, ProposalMessage)
            proposed_at = send.message.batch.header.timestamp_ms
            self._nursery.start_soon(self._amnesia_restart, proposed_at)

    def _queue(self, to: bytes | None, frame: bytes, is_gossip: bool) -> None:
        """Send now, or after the ``delay`` fault's latency; while delayed frames wait, later
        ones queue behind them, so no frame overtakes another."""
        delay_ms = self.faults.delay_ms
        if delay_ms or self._delayed_pending:
            self._delayed_pending += 1
            due = trio.current_time() + delay_ms / 1000
            self._delayed_in.send_nowait((due, to, frame, is_gossip))
        else:
            self.peers.send(frame, to, is_gossip)

    async def _send_delayed(self) -> None:
        async for due, to, frame, is_gossip in self._delayed_out:
            await trio.sleep_until(due)
            self._delayed_pending -= 1
            self.peers.send(frame, to, is_gossip)

    async def _send_garbage(self) -> None:
        """Under the ``garbage`` fault, feed every peer malformed and badly signed messages."""
        while True:
            await trio.sleep(GARBAGE_INTERVAL_S)
            for peer, payload in self.faults.garbage(self.replica.height, self.replica.round):
                self.peers.send(payload, peer)

    async def _amnesia_restart(self, proposed_at_ms: int) -> None:
        """Restart in-process forgetting what was signed: the fresh replica proposes this
        height again with a new batch (its clock is past the forgotten batch's timestamp, so
        the batch differs), a double-sign honest nodes must catch."""
        FileSignStateStore(self.config.data_dir / "sign_state.bin").erase()
        self.replica = self._new_replica()
        self.replica.omit = self.faults.omit
        log.warning("amnesia_restart", height=self.replica.height)
        self.carry_out(self.replica.start(max(now_ms(), proposed_at_ms + 1)))
        self._reload_pending()

    def _faults_changed(self) -> None:
        """Apply what the fault layer cannot do alone: the replica's censor predicate, and a
        crash height already reached."""
        self.replica.omit = self.faults.omit
        if self.faults.crash_due(self.chain.last_height()):
            self._crash()

    def _crash(self) -> None:
        """Stop the whole node now, as the ``crash`` fault asks (the process exits non-zero)."""
        crash = self.faults.get(Crash)
        assert crash is not None and self._nursery is not None
        if not self.exit_code:
            log.error("fault_crash", height=self.chain.last_height(), crash_height=crash.height)
            self.exit_code = CRASH_EXIT_CODE
            self._nursery.cancel_scope.cancel()

    async def _watch_for_stalls(self) -> None:
        """Warn when the chain stops: no commit for several rounds' worth of timeouts. The
        record's ``height`` is the last committed one, as status and watch show it (the
        height being decided is ``deciding``)."""
        while True:
            await trio.sleep(LIVENESS_INTERVAL_S)
            now = now_ms()
            if self.liveness.stall_due(now):
                log.warning(
                    "stall",
                    height=self.chain.last_height(),
                    deciding=self.replica.height,
                    round=self.replica.round,
                    since_ms=self.liveness.commit_age_ms(now),
                    peers_heard=self.heard_names(now),
                )

    def consensus_dump(self) -> dict[str, Any]:
        """The consensus core's view of the current height, plus its timeouts still running
        here (with the ms left; those of decided heights fire into nothing) and how long ago
        this node last committed."""
        now, height = now_ms(), self.replica.height
        timers = [
            {
                "step": key.step.name.lower(),
                "height": key.height,
                "round": key.round,
                "remaining_ms": max(0, deadline - now),
            }
            for key, deadline in sorted(self._step_timers.items(), key=lambda kv: kv[1])
            if key.height == height
        ]
        return {
            "name": self.name,
            "chain_id": self.config.genesis.chain_id,
            "last_height": self.chain.last_height(),
            "last_commit_age_ms": self.liveness.commit_age_ms(now),
            "consensus": self.replica.driver.dump(),
            "timers": timers,
            "lanes": self.replica.lanes.dump(now, self.names),
        }

    def heard_names(self, now: int) -> list[str]:
        return sorted(self.names[k] for k in self.liveness.heard_peers(now))

    def _on_commit(self, entry: CommittedBatch) -> None:
        header = entry.batch.header
        self.commits += 1
        stalled_ms = self.liveness.committed(now_ms())
        if stalled_ms is not None:
            log.info("commit_resumed", height=header.height, stalled_ms=stalled_ms)
        event = {
            "height": header.height,
            "batch_id": entry.batch.id,
            "round": entry.certificate.round,
            "proposer": self.names.get(header.proposer),
            "txs": len(entry.txs),
            "timestamp_ms": header.timestamp_ms,
            "committed_ms": now_ms(),
        }
        self.summary.add(entry.certificate.round, len(entry.txs))
        log.debug(
            "committed",
            height=header.height,
            round=entry.certificate.round,
            txs=len(entry.txs),
            proposer=event["proposer"],
            batch_id=entry.batch.id.hex()[:16],
        )
        self.client_api.publish(event, entry.tx_ids)
        if self.faults.crash_due(header.height):
            self._crash()

    def censorship_metrics(self) -> dict[str, Any]:
        """Inclusion delays and per-proposer counts as this node saw them, with the rules."""
        replica = self.replica
        registered = {n.id: n.name for n in replica.lanes.registry.namespaces}
        return metrics.document(
            self.config.genesis.params,
            replica.censorship,
            self.names,
            replica.validators.skipped,
            registered,
        )

    def write_metrics(self) -> None:
        """censorship.json in the data dir, so a report on a stopped cluster reads what the
        node saw last."""
        try:
            metrics.write(self.config.data_dir, self.censorship_metrics())
        except OSError as exc:  # a metrics file is not worth stopping consensus for
            path = metrics.path(self.config.data_dir)
            log.warning("metrics_not_written", path=str(path), reason=str(exc))

    async def _write_metrics_periodically(self) -> None:
        while True:
            await trio.sleep(METRICS_INTERVAL_S)
            self.write_metrics()

    async def _log_summaries(self) -> None:
        """At info, one line every SUMMARY_INTERVAL_S for the per-height lines kept at debug."""
        while True:
            await trio.sleep(SUMMARY_INTERVAL_S)
            height = self.chain.last_height()
            log.info("summary", **self.summary.take(height, SUMMARY_INTERVAL_S))

    def render_metrics(self) -> bytes:
        """The Prometheus scrape: state-like values read now, then rendered."""
        now = now_ms()
        links = Links(len(self.peers.connected()), len(self.liveness.heard_peers(now)))
        self.metrics.refresh(self.replica, links, self.liveness.commit_age_ms(now))
        return self.metrics.render()


async def _listen(role: str, endpoint: Endpoint, binding: Awaitable[Any]) -> Any:
    """Await ``binding`` (a listener being opened); a failure is logged and raised as a
    ListenError naming the port, the one line an operator needs."""
    try:
        return await binding
    except BaseException as exc:
        cause = _os_error(exc)
        if cause is None:
            raise
        error = ListenError(role, shown(endpoint), cause)
        log.error("node_start_failed", role=role, address=error.address, reason=error.reason)
        raise error from exc


def _os_error(exc: BaseException) -> OSError | None:
    """The OSError in ``exc``, looking inside the exception groups trio wraps it in."""
    if isinstance(exc, OSError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _os_error(inner)
            if found is not None:
                return found
    return None


async def serve(config: NodeConfig) -> int:
    """Run a node until SIGTERM or SIGINT, then stop cleanly. Returns the exit status: 0, or
    CRASH_EXIT_CODE when a ``crash`` fault stopped it."""
    node = Node(config)
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:

            async def run_node(
                task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
            ) -> None:
                await node.run(task_status=task_status)
                nursery.cancel_scope.cancel()  # node.run returns only after a crash fault

            await nursery.start(run_node)

            async def stop_on_signal() -> None:
                async for signum in signals:
                    log.info("node_stopping", signal=signal.Signals(signum).name)
                    nursery.cancel_scope.cancel()

            nursery.start_soon(stop_on_signal)
    node.write_metrics()
    node.chain.close()
    return node.exit_code
