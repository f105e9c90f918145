"""Wait until every node of a freshly started cluster answers, or say which one never did.

`cluster up` is done only when every node's client API answers a status request: a node that
died (a busy port, a bad data dir) or never answers is named with its port and the reason, in
one line, so the user need not dig through N node.out files."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio

from ..config import load_node_config
from ..config.node_file import shown
from .control import STARTUP_TIMEOUT_S, Cluster
from .errors import ClusterError
from .ports import in_use
from .probe import probe
from .procs import ProcState

RETRY_S = 0.2

Probe = Callable[[str], Awaitable[dict[str, Any] | None]]


async def wait_ready(
    cluster: Cluster, timeout: float = STARTUP_TIMEOUT_S, ask: Probe = probe
) -> None:
    """Return once every node answers status; raise ClusterError naming the first node that
    exited, or one that still did not answer after ``timeout`` seconds."""
    waiting = list(cluster.names)
    deadline = trio.current_time() + timeout
    while waiting:
        states = {p.name: p.state for p in cluster.processes()}
        for name in waiting:
            if states[name] is not ProcState.ALIVE and states[name] is not ProcState.PAUSED:
                raise ClusterError(startup_failure(cluster, name, "exited at start-up", True))
        answers = await _ask_all(cluster, waiting, ask)
        waiting = [name for name in waiting if answers[name] is None]
        if waiting and trio.current_time() >= deadline:
            reason = f"did not answer a status request within {timeout:g} s"
            message = startup_failure(cluster, waiting[0], reason, False)
            others = [f"{n} (client {cluster.genesis.addresses[n].client})" for n in waiting[1:]]
            raise ClusterError(message + "".join(f"; nor did {o}" for o in others))
        if waiting:
            await trio.sleep(RETRY_S)


async def _ask_all(
    cluster: Cluster, names: list[str], ask: Probe
) -> dict[str, dict[str, Any] | None]:
    answers: dict[str, dict[str, Any] | None] = dict.fromkeys(names)

    async def one(name: str) -> None:
        answers[name] = await ask(cluster.genesis.addresses[name].client)

    async with trio.open_nursery() as nursery:
        for name in names:
            nursery.start_soon(one, name)
    return answers


def startup_failure(cluster: Cluster, name: str, what: str, exited: bool) -> str:
    """One line: the node, its client port, what happened, the ports another program holds
    (only known once the node is gone: a live node holds its own), and its last output line."""
    addresses = _ports(cluster, name)
    parts = [f"{name} (client {addresses['client']}) {what}"]
    busy = in_use(addresses) if exited else {}
    if busy:
        parts.append("in use by another program: " + ", ".join(f"{k} {a}" for k, a in busy.items()))
    output = cluster.layout.output(name)
    last = last_output_line(output)
    parts.append(f"its last output: {last!r}" if last else "it wrote no output")
    parts.append(f"see {output}")
    return "; ".join(parts)


def _ports(cluster: Cluster, name: str) -> dict[str, str]:
    config = load_node_config(cluster.layout.node_config(name))
    ports = {"client": shown(config.client_bind), "peer": shown(config.peer_bind)}
    if config.admin_address is not None:
        ports["admin"] = config.admin_address
    if config.metrics_address is not None:
        ports["metrics"] = config.metrics_address
    return ports


def last_output_line(output: Path) -> str | None:
    """The last non-empty line of the node's latest run (spawn marks each run with '--- ')."""
    try:
        lines = output.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        if line.startswith("--- "):
            return None
        if line.strip():
            return line.strip()
    return None
