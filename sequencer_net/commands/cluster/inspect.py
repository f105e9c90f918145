"""`cluster status` and `cluster list`: what the nodes of a cluster, and the clusters known
here, are doing."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ...cluster import registry
from ...cluster.control import Cluster
from ...cluster.procs import ProcState
from ..target import add_dir_option, chosen_dir, given_dir
from .common import cluster_root, user_errors


def add_status(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser(
        "status",
        help="show every node: pid, alive/paused/dead, height, round, peers, mempool",
        description="Show each node's process state and, for running nodes, what it reports "
        "over its client API. A node that does not answer within 1 s shows '-'.",
    )
    add_dir_option(p, positional=True)
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.set_defaults(run=user_errors(_run_status))


def _run_status(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ...cluster.status import gather_sync, table

    cluster = Cluster(cluster_root(given_dir(args)))
    rows = gather_sync(cluster)
    if args.json:
        nodes = [row.to_json() for row in rows]
        print(json.dumps({"dir": str(cluster.root), "nodes": nodes}, indent=2))
    else:
        Console().print(table(rows, f"cluster {cluster.root}"))
    dead = [row.name for row in rows if row.state is ProcState.DEAD]
    if dead:
        print(f"dead (should run, but exited or was killed): {', '.join(dead)}", file=sys.stderr)
    return 1 if dead else 0


def add_list(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser(
        "list",
        help="show the clusters started or created from here, running or stopped",
        description="Show every cluster this working directory knows: each dir under runs/, "
        "and each dir elsewhere that `cluster init` or `cluster up` used from here (kept in "
        "runs/.clusters). Per cluster: its dir, the config it was made from, and how many of "
        "its nodes are alive; * marks the one commands use by default.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.set_defaults(run=user_errors(_run_list))


def _run_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    rows = [registry.describe(root) for root in registry.known()]
    current = chosen_dir(None)  # the default every command uses
    current = current.absolute() if current else None
    if args.json:
        clusters = [{**row.to_json(), "current": row.dir == current} for row in rows]
        print(json.dumps({"clusters": clusters}, indent=2))
        return 0
    if not rows:
        print("no clusters here yet; start one with `sequencer-net cluster up`", file=sys.stderr)
        return 0
    out = Table(title=f"clusters known in {Path.cwd()}", title_justify="left")
    for column in ("", "dir", "config", "nodes alive", "state"):
        out.add_column(column, overflow="fold")  # a path cut short is no use
    for row in rows:
        out.add_row(
            "*" if row.dir == current else "",
            _near(row.dir),
            _near(Path(row.config))
            if row.config and row.config.endswith(".toml")
            else row.config or "-",
            "-" if row.total is None else f"{row.alive}/{row.total}",
            row.state,
        )
    Console().print(out)
    return 0


def _near(path: Path) -> str:
    """``path`` relative to the working directory when inside it: short enough for a table."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
