"""The live table `cluster up` shows in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
from typing import Any

import trio
from rich.console import Console
from rich.live import Live

from ..load import LoadReport, run_load
from .control import Cluster
from .probe import probe
from .status import combine, table

REFRESH_S = 0.5
LOAD_DRAIN_S = 3.0
LONG_LOAD_S = 24 * 3600.0  # --load without --duration: until Ctrl-C
# On a busy machine the load may end after --duration; the view waits this long for its report.
LOAD_REPORT_GRACE_S = 30.0


async def watch(
    cluster: Cluster,
    console: Console,
    interval: float = REFRESH_S,
    load_rate: int = 0,
    duration: float | None = None,
    load_clients: int = 1,
) -> LoadReport | None:
    """Redraw every ``interval`` s until Ctrl-C, SIGTERM or SIGHUP (terminal closed), or for
    ``duration`` seconds, then return so the caller stops the nodes. With ``load_rate``,
    transactions are submitted meanwhile, the view ends when the load does (at most
    LOAD_REPORT_GRACE_S after ``duration``), and the load report is returned."""
    reports: dict[str, dict[str, Any] | None] = {}
    title = f"cluster {cluster.root}  (Ctrl-C stops every node)"
    load: list[LoadReport] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_cancel_on_signal, nursery.cancel_scope)
        for name in cluster.names:
            nursery.start_soon(_poll, cluster, name, reports, interval)
        if duration is not None:
            grace = LOAD_REPORT_GRACE_S if load_rate else 0.0
            nursery.cancel_scope.deadline = trio.current_time() + duration + grace
        if load_rate:
            view = nursery.cancel_scope
            offer = (cluster, load_rate, duration, load_clients, load, view)
            nursery.start_soon(_offer_load, *offer)
        try:
            with Live(console=console, auto_refresh=False) as live:
                while True:
                    rows = combine(cluster, cluster.processes(), reports)
                    live.update(table(rows, title), refresh=True)
                    await trio.sleep(interval)
        finally:
            if not console.is_terminal:  # Live ends the last table with a newline on terminals only
                console.line()
    return load[0] if load else None


async def _offer_load(
    cluster: Cluster,
    rate: int,
    duration: float | None,
    clients: int,
    out: list[LoadReport],
    view: trio.CancelScope,
) -> None:
    """Submit ``rate`` tx/s to every node in turn (`cluster up` waited until all answer); the
    load stops a few seconds before ``duration`` so its last transactions can commit."""
    addresses = [cluster.genesis.addresses[name].client for name in cluster.names]
    seconds = max(1.0, (duration or LONG_LOAD_S) - LOAD_DRAIN_S)
    drain = LOAD_DRAIN_S - 0.5
    out.append(await run_load(addresses, rate, seconds, 100, drain, clients))
    view.cancel()  # the report is in: the view is done


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
