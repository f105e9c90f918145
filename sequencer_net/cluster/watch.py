"""The live table `cluster up` shows in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
from typing import Any

import trio
from rich.console import Console
from rich.live import Live

from .control import Cluster
from .probe import probe
from .status import combine, table

REFRESH_S = 0.5


async def watch(cluster: Cluster, console: Console, interval: float = REFRESH_S) -> None:
    """Redraw every ``interval`` s until Ctrl-C, SIGTERM or SIGHUP (terminal closed), then
    return so the caller stops the nodes."""
    reports: dict[str, dict[str, Any] | None] = {}
    title = f"cluster {cluster.root}  (Ctrl-C stops every node)"
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_cancel_on_signal, nursery.cancel_scope)
        for name in cluster.names:
            nursery.start_soon(_poll, cluster, name, reports, interval)
        try:
            with Live(console=console, auto_refresh=False) as live:
                while True:
                    rows = combine(cluster, cluster.processes(), reports)
                    live.update(table(rows, title), refresh=True)
                    await trio.sleep(interval)
        finally:
            if not console.is_terminal:  # Live ends the last table with a newline on terminals only
                console.line()


async def _poll(
    cluster: Cluster, name: str, reports: dict[str, dict[str, Any] | None], interval: float
) -> None:
    """One task per node, so a hung node leaves the other rows fresh."""
    address = cluster.genesis.addresses[name].client
    while True:
        reports[name] = await probe(address)
        await trio.sleep(interval)


async def _cancel_on_signal(scope: trio.CancelScope) -> None:
    """Ctrl-C included: as a signal it ends the watch cleanly, where trio's KeyboardInterrupt
    would arrive wrapped in an exception group."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
        async for _ in signals:
            scope.cancel()
            return
