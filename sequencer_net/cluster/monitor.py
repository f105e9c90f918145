"""The polling shell of `sequencer-net watch`: asks every node, follows the commit streams and
the node logs, and redraws :mod:`.frame`'s view until told to stop.

Each node gets its own tasks, so a hung or dead node leaves the other rows fresh. Everything
kept grows to a bound: commits to COMMITS_KEPT heights, events to EVENTS_KEPT lines, and a log is
read at most LOG_READ_LIMIT bytes a poll (the rest is skipped, not buffered).
"""

from __future__ import annotations

import json
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import trio
from rich.console import Console
from rich.live import Live

from ..client import Client
from .admin import AdminTarget, admin_call, admin_targets
from .control import Cluster
from .errors import ClusterError
from .frame import EVENTS_SHOWN, Commit, Sample, View, changes, commit_event, frame, view
from .probe import probe
from .procs import ProcState

EVENTS_KEPT = 200
COMMITS_KEPT = 4096
SEEN_KEPT = 4096
LOG_READ_LIMIT = 1 << 20
LOG_BACKLOG = 64 * 1024  # at start, the log's last this many bytes: the recent events
STREAM_SETTLE_S = 1.5  # --once: how long the commit streams run before the frame is taken
RECONNECT_S = 1.0
HALT_AFTER_ROUNDS = 3  # as the node's own stall warning: this many rounds without a commit
# Log events worth a line, and how to word them; others (and unreadable lines) are ignored.
LOG_EVENTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "evidence_found": lambda r: (
        f"evidence against {r.get('offender')} ({r.get('kind')}) at height {r.get('height')}"
    ),
    "stall": lambda r: (
        f"stall: no commit for {r.get('since_ms')} ms since committed height {r.get('height')}"
    ),
    "commit_resumed": lambda r: f"commits resumed at height {r.get('height')}",
    "fault_crash": lambda r: f"crash fault fired at height {r.get('height')}",
    "amnesia_restart": lambda r: f"amnesia restart at height {r.get('height')}",
}


def halt_after_ms(cluster: Cluster) -> int:
    """Several round-0 rounds' worth of timeouts: longer than any healthy height takes."""
    t = cluster.genesis.genesis.consensus.timeouts
    return HALT_AFTER_ROUNDS * (t.propose_ms + t.prevote_ms + t.precommit_ms)


class Monitor:
    """What the polls found so far, for one cluster."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.samples: dict[str, Sample] = {}
        self.commits: dict[int, Commit] = {}  # by height, as first reported; the latest kept
        self.events: deque[tuple[float, str]] = deque(maxlen=EVENTS_KEPT)  # (unix s, line)
        self.halt_after_ms = halt_after_ms(cluster)
        self._last: list[Sample] | None = None
        self._chain: str | None = None
        self._seen_log: set[tuple[Any, ...]] = set()
        self._log_offsets = {
            name: max(0, _size(cluster.layout.data(name) / "node.log") - LOG_BACKLOG)
            for name in cluster.names
        }
        self.started_ms = int(time.time() * 1000)
        try:
            self._admin: dict[str, AdminTarget] = admin_targets(cluster)
        except ClusterError:  # a dir without admin API: no fault column
            self._admin = {}

    def current(self) -> View:
        """The view now, noting what changed since the last call as events."""
        samples = [self.samples.get(n, Sample(n, ProcState.STOPPED)) for n in self.cluster.names]
        try:
            processes = {p.name: p for p in self.cluster.processes()}
        except ClusterError:  # cluster.json mid-rewrite or damaged: the nodes' answers only
            processes = {}
        samples = [_with_process(s, processes.get(s.name)) for s in samples]
        v = view(
            f"cluster {self.cluster.root}",
            samples,
            self.commits.values(),
            [],
            int(time.time() * 1000),
            self.halt_after_ms,
            self.started_ms,
        )
        now = time.time()
        found = changes(self._last, samples, self._chain, v.chain, _clock(now))
        self.events.extend((now, line) for line in found)
        self._last, self._chain = samples, v.chain
        latest = sorted(self.events, key=lambda e: e[0])[-EVENTS_SHOWN:]
        return replace(v, events=[line for _, line in latest])

    async def poll_node(self, name: str, interval: float) -> None:
        """Status and fault state of one node, every ``interval`` s."""
        address = self.cluster.genesis.addresses[name].client
        while True:
            status = await probe(address)
            faults, cut = None, None
            admin = self._admin.get(name)
            if status is not None and admin is not None:
                answer = await _fault_state(admin)
                faults, cut = answer.get("faults"), answer.get("partitioned_from")
            self.samples[name] = Sample(name, ProcState.ALIVE, None, status, faults, cut)
            self._read_log(name)
            await trio.sleep(interval)

    async def follow_commits(self, name: str) -> None:
        """The node's commit stream, reconnecting while the node is down."""
        address = self.cluster.genesis.addresses[name].client
        while True:
            try:
                async with await Client.connect(address) as client:
                    async for event in client.commits():
                        self._add(_commit(event))
            except Exception:  # as probe: a node that dies or garbles shows, never stops us
                pass
            await trio.sleep(RECONNECT_S)

    def _add(self, commit: Commit | None) -> None:
        """Keep the first report of each height (every node reports each one); a height past
        round 0 is an event."""
        if commit is None or commit.height in self.commits:
            return
        self.commits[commit.height] = commit
        line = commit_event(commit, _clock(commit.committed_ms / 1000))
        if line is not None:
            self.events.append((commit.committed_ms / 1000, line))
        if len(self.commits) > COMMITS_KEPT:
            del self.commits[next(iter(self.commits))]  # the longest held

    def _read_log(self, name: str) -> None:
        """New lines of the node's log: the events :data:`LOG_EVENTS` names, once each even
        when every node logs the same evidence."""
        path = self.cluster.layout.data(name) / "node.log"
        offset = self._log_offsets.get(name, 0)
        size = _size(path)
        if size < offset:  # a new or rotated log
            offset = 0
        if size - offset > LOG_READ_LIMIT:
            offset = size - LOG_READ_LIMIT
        try:
            with path.open("rb") as f:
                f.seek(offset)
                chunk = f.read(size - offset)
        except OSError:
            return
        end = chunk.rfind(b"\n") + 1  # a line still being written waits for the next poll
        self._log_offsets[name] = offset + end
        for line in chunk[:end].splitlines():
            try:
                record = json.loads(line)
                event = record["event"]
            except (ValueError, KeyError, TypeError):
                continue
            if event not in LOG_EVENTS:
                continue
            key = (event, record.get("offender"), record.get("height"), record.get("kind"))
            if event == "evidence_found":
                if key in self._seen_log:
                    continue
                if len(self._seen_log) >= SEEN_KEPT:  # old heights' evidence is done with
                    self._seen_log.clear()
                self._seen_log.add(key)
            try:
                at = datetime.fromisoformat(str(record.get("timestamp"))).timestamp()
            except ValueError:
                at = time.time()
            self.events.append((at, f"{_clock(at)} {name}: {LOG_EVENTS[event](record)}"))


async def _fault_state(admin: AdminTarget) -> dict[str, Any]:
    """The node's faults and partition, or nothing when it does not say (a display shows a
    missing answer as unknown rather than failing)."""
    try:
        answer = await admin_call(admin, "fault_list")
    except Exception:
        return {}
    if not isinstance(answer, dict):
        return {}
    faults, cut = answer.get("faults"), answer.get("partitioned_from")
    if not (isinstance(faults, list) and isinstance(cut, list)):
        return {}
    return {"faults": [str(f) for f in faults], "partitioned_from": [str(c) for c in cut]}


def _clock(unix_s: float) -> str:
    """HH:MM:SS in UTC, as the node logs stamp their lines."""
    return time.strftime("%H:%M:%S", time.gmtime(unix_s))


def _with_process(s: Sample, process: Any) -> Sample:
    """The OS's word on the process wins: a dead node's last answer is not shown as fresh."""
    if process is None:
        return s
    if process.state is not ProcState.ALIVE:
        return Sample(s.name, process.state, process.pid)
    return Sample(s.name, process.state, process.pid, s.status, s.faults, s.partitioned_from)


def _commit(event: object) -> Commit | None:
    if not isinstance(event, dict):
        return None
    try:
        values = [event[k] for k in ("height", "round", "txs", "timestamp_ms", "committed_ms")]
    except KeyError:
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return None
    return Commit(*values)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


async def watch(
    cluster: Cluster,
    console: Console,
    interval: float,
    duration: float | None,
    once: bool,
) -> View:
    """Poll and redraw until Ctrl-C, SIGTERM or SIGHUP, or for ``duration`` s; with ``once``,
    poll until every running node answered (or a few seconds passed) and return that view
    without drawing. Returns the last view."""
    monitor = Monitor(cluster)
    result: list[View] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_cancel_on_signal, nursery.cancel_scope)
        for name in cluster.names:
            nursery.start_soon(monitor.poll_node, name, interval)
            nursery.start_soon(monitor.follow_commits, name)
        # A frame before every running node was asked once would show it unanswered (and
        # the chain perhaps HALTED); --once also lets the commit streams run a moment.
        await _first_answers(monitor, interval, STREAM_SETTLE_S if once else 0.0)
        if once:
            result.append(monitor.current())
            nursery.cancel_scope.cancel()
            return result[0]
        if duration is not None:
            nursery.cancel_scope.deadline = trio.current_time() + duration
        try:
            with Live(console=console, auto_refresh=False, screen=console.is_terminal) as live:
                while True:
                    current = monitor.current()
                    result[:] = [current]
                    live.update(frame(current), refresh=True)
                    await trio.sleep(interval)
        finally:
            if result and not console.is_terminal:
                console.line()
    return result[0] if result else monitor.current()


async def _first_answers(monitor: Monitor, interval: float, settle: float) -> None:
    """Until every node the OS says runs has been polled once (at most a few polls), then
    ``settle`` seconds more."""
    with trio.move_on_after(max(5.0, 3 * interval)):
        while True:
            try:
                processes = monitor.cluster.processes()
            except ClusterError:
                processes = []
            running = [p.name for p in processes if p.state is ProcState.ALIVE]
            if all(n in monitor.samples for n in running):
                await trio.sleep(settle)
                return
            await trio.sleep(0.05)


async def _cancel_on_signal(scope: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
        async for _ in signals:
            scope.cancel()
            return
