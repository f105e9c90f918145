"""The operations on a running cluster: up, down, and per-node kill, restart, pause, resume."""

from __future__ import annotations

import ipaddress
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import kills, procs, state
from .errors import ClusterError
from .layout import Layout
from .procs import Proc, ProcState

NodeCommand = Callable[[Path], list[str]]
STOP_TIMEOUT_S = 5.0
# Here, not in startup (which needs trio), so `cluster up --help` can show it cheaply.
STARTUP_TIMEOUT_S = 60.0  # a first start on a busy 2-core machine takes a few seconds per node
KILL_TIMEOUT_S = 2.0


def node_command(config: Path) -> list[str]:
    """The command line of one node: this interpreter, so a venv's nodes run its code."""
    return [sys.executable, "-m", "sequencer_net", "node", "--config", str(config)]


@dataclass(frozen=True)
class NodeProcess:
    """What the OS says about one node: its last pid (None if not recorded) and state."""

    name: str
    pid: int | None
    state: ProcState


class Cluster:
    """An initialised cluster dir. ``command`` builds a node's command line from its node.toml
    path; tests pass a stand-in so they can exercise process control without real nodes."""

    def __init__(self, root: Path, command: NodeCommand = node_command) -> None:
        self.layout = Layout(Path(root).absolute())
        if not self.layout.genesis.is_file():
            raise ClusterError(
                f"{self.layout.root} is not a cluster dir (no genesis.toml); "
                "create one with `sequencer-net cluster init`"
            )
        from ..config import load_genesis  # imported here: `cluster --help` needs no config

        self.genesis = load_genesis(self.layout.genesis)
        self.names = [v.name for v in self.genesis.genesis.validators]
        self.command = command

    @property
    def root(self) -> Path:
        return self.layout.root

    def processes(self) -> list[NodeProcess]:
        recorded = state.load(self.layout.state)
        rows = []
        for name in self.names:
            proc = recorded.get(name)
            if proc is None:
                rows.append(NodeProcess(name, None, ProcState.STOPPED))
            else:
                rows.append(NodeProcess(name, proc.pid, procs.state(proc)))
        return rows

    def up(self) -> dict[str, int]:
        """Start every node; refuses while any node of this dir still runs."""
        from ..config import load_node_config

        for name in self.names:  # one clear config error now beats N dead processes later
            self._check_local(name)
            load_node_config(self.layout.node_config(name))
        with state.locked(self.layout.lock):
            recorded = state.load(self.layout.state)
            running = [n for n, p in recorded.items() if procs.state(p) is not ProcState.DEAD]
            if running:
                raise ClusterError(
                    f"{self.root} is already up ({', '.join(sorted(running))} running); "
                    f"stop it with `sequencer-net cluster down {self.root}` first, or "
                    "restart one node with `cluster restart NODE`"
                )
            started: dict[str, Proc] = {}
            try:
                for name in self.names:
                    started[name] = self._spawn(name)
            except BaseException:  # a failed start or a Ctrl-C: leave no unrecorded node behind
                procs.stop(started.values(), STOP_TIMEOUT_S)
                raise
            state.save(self.layout.state, started)
        return {name: proc.pid for name, proc in started.items()}

    def down(self, timeout: float = STOP_TIMEOUT_S) -> tuple[list[str], list[str]]:
        """Stop every node (SIGTERM, then SIGKILL after ``timeout`` s) and forget the pids.
        Returns the names that were running and those that needed SIGKILL."""
        with state.locked(self.layout.lock):
            recorded = state.load(self.layout.state)
            running = {
                name: proc
                for name, proc in recorded.items()
                if procs.state(proc) is not ProcState.DEAD
            }
            killed = procs.stop(running.values(), timeout)
            state.save(self.layout.state, {})
        return sorted(running), sorted(n for n, p in running.items() if p in killed)

    def kill(self, name: str) -> int:
        """SIGKILL one node, as a crash would; its pid stays recorded, shown as dead."""
        with state.locked(self.layout.lock):
            proc = self._running(name)
            procs.kill(proc, KILL_TIMEOUT_S)
            kills.record(self.layout.kills, name)
        return proc.pid

    def restart(self, name: str) -> int:
        """Kill the node if it runs, then start it again from the same node.toml."""
        from ..config import load_node_config

        self._check_name(name)
        load_node_config(self.layout.node_config(name))
        with state.locked(self.layout.lock):
            recorded = state.load(self.layout.state)
            if name in recorded:
                if procs.state(recorded[name]) is not ProcState.DEAD:
                    kills.record(self.layout.kills, name)
                procs.kill(recorded[name], KILL_TIMEOUT_S)
            recorded[name] = self._spawn(name)
            state.save(self.layout.state, recorded)
        return recorded[name].pid

    def pause(self, name: str) -> int:
        """SIGSTOP: the node keeps its sockets but stops answering, like a hung machine."""
        return self._signal(name, signal.SIGSTOP)

    def resume(self, name: str) -> int:
        return self._signal(name, signal.SIGCONT)

    def _signal(self, name: str, signum: signal.Signals) -> int:
        with state.locked(self.layout.lock):
            proc = self._running(name)
            procs.send(proc, signum)
        return proc.pid

    def _running(self, name: str) -> Proc:
        self._check_name(name)
        proc = state.load(self.layout.state).get(name)
        if proc is None or procs.state(proc) is ProcState.DEAD:
            raise ClusterError(f"{name} is not running (start it with `cluster restart {name}`)")
        return proc

    def _check_name(self, name: str) -> None:
        if name not in self.names:
            raise ClusterError(f"no node {name!r} in {self.root}; nodes: {', '.join(self.names)}")

    def _check_local(self, name: str) -> None:
        """This tool starts nodes on this machine only: a node genesis places on another host
        (`cluster init --hosts`, or a compose service name) runs there, and starting it here
        would bind every interface and dial the other hosts."""
        for endpoint in self.genesis.endpoints[name]:
            try:
                local = ipaddress.ip_address(endpoint.host).is_loopback
            except ValueError:
                local = False
            if not local:
                raise ClusterError(
                    f"{name} runs on {endpoint.host}, not on this machine: start it there with "
                    f"`sequencer-net node --config {name}/node.toml` from its bundle, or with "
                    "the deploy files (docs/deploy.md)"
                )

    def _spawn(self, name: str) -> Proc:
        self._check_local(name)
        argv = self.command(self.layout.node_config(name))
        return procs.spawn(argv, self.layout.output(name))
