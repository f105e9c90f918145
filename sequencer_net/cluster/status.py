"""What `cluster status` and the live view of `cluster up` show: OS state plus node reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import trio
from rich.table import Table

from .control import Cluster, NodeProcess
from .layout import Layout
from .probe import PROBE_TIMEOUT_S, probe_all
from .procs import ProcState

HALT_SHOWN_AFTER_MS = 5_000
STATE_STYLE = {
    ProcState.ALIVE: "green",
    ProcState.PAUSED: "yellow",
    ProcState.DEAD: "red",
    ProcState.STOPPED: "dim",
}


@dataclass(frozen=True)
class NodeStatus:
    """One row: None for what the node did not report (not running, or no answer in time)."""

    name: str
    pid: int | None
    state: ProcState
    client_address: str
    metrics_address: str | None = None  # from node.toml; None: no metrics endpoint
    height: int | None = None
    round: int | None = None
    step: str | None = None
    peers: list[str] | None = None
    mempool: int | None = None
    last_commit_age_ms: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "state": str(self.state)}


def combine(
    cluster: Cluster,
    processes: list[NodeProcess],
    reports: Mapping[str, Mapping[str, Any] | None],
) -> list[NodeStatus]:
    """Rows for ``processes``; a report counts only while its node runs (none is stale)."""
    rows = []
    for process in processes:
        running = process.state is ProcState.ALIVE
        report = (reports.get(process.name) if running else None) or {}
        peers = report.get("peers")
        rows.append(
            NodeStatus(
                name=process.name,
                pid=process.pid,
                state=process.state,
                client_address=cluster.genesis.addresses[process.name].client,
                metrics_address=metrics_address(cluster.layout, process.name),
                height=_int(report.get("height")),
                round=_int(report.get("round")),
                step=report.get("step") if isinstance(report.get("step"), str) else None,
                peers=[str(p) for p in peers] if isinstance(peers, list) else None,
                mempool=_int(report.get("mempool")),
                last_commit_age_ms=_int(report.get("last_commit_age_ms")),
            )
        )
    return rows


def metrics_address(layout: Layout, name: str) -> str | None:
    """The node's metrics_address as its node.toml gives it; None when it has none (or the
    file cannot be read: the node then cannot run either, and says why when started)."""
    from ..config.schema import ConfigError, read_toml

    try:
        value = read_toml(layout.node_config(name)).get("metrics_address")
    except ConfigError:
        return None
    return value if isinstance(value, str) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def gather(cluster: Cluster, timeout: float = PROBE_TIMEOUT_S) -> list[NodeStatus]:
    """Process states, plus a report from every node that runs (paused ones cannot answer)."""
    processes = cluster.processes()
    addresses = {
        p.name: cluster.genesis.addresses[p.name].client
        for p in processes
        if p.state is ProcState.ALIVE
    }
    return combine(cluster, processes, await probe_all(addresses, timeout))


def gather_sync(cluster: Cluster, timeout: float = PROBE_TIMEOUT_S) -> list[NodeStatus]:
    return trio.run(gather, cluster, timeout)


def table(rows: list[NodeStatus], title: str) -> Table:
    """Compact enough for 80 columns; peer names and addresses are in --json, the metrics
    addresses in the caption. Peers are those heard from in the last few seconds, not
    merely linked: a partition shows."""
    out = Table(
        title=title, title_justify="left", caption=_metrics_caption(rows), caption_justify="left"
    )
    out.add_column("node")
    out.add_column("pid", justify="right")
    out.add_column("state")
    out.add_column("height", justify="right")
    out.add_column("round", justify="right")
    out.add_column("step")
    out.add_column("peers", justify="right")
    out.add_column("last commit", justify="right")
    out.add_column("mempool", justify="right")
    others = len(rows) - 1
    for row in rows:
        out.add_row(
            row.name,
            _show(row.pid),
            f"[{STATE_STYLE[row.state]}]{row.state}[/]",
            _show(row.height),
            _show(row.round),
            _show(row.step),
            "-" if row.peers is None else f"{len(row.peers)}/{others}",
            commit_age(row.last_commit_age_ms),
            _show(row.mempool),
        )
    return out


def commit_age(age_ms: object) -> str:
    """How long ago the node last committed, in red once it is long enough to be a halt."""
    if not isinstance(age_ms, int):
        return "-"
    text = f"{age_ms / 1000:.1f}s"
    return f"[red]{text}[/]" if age_ms >= HALT_SHOWN_AFTER_MS else text


def _metrics_caption(rows: list[NodeStatus]) -> str | None:
    """Where each node serves its Prometheus metrics, in one line under the table."""
    shown = [f"{row.name} {row.metrics_address}" for row in rows if row.metrics_address]
    return f"metrics (GET /metrics): {', '.join(shown)}" if shown else None


def _show(value: object) -> str:
    return "-" if value is None else str(value)
