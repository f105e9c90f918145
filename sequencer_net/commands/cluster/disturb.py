"""`cluster down` and the disturbances: kill, restart, pause and resume one node, partition
the network and heal it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from ...cluster.control import Cluster
from ...cluster.partition import partition_cuts
from ..target import add_dir_option, given_dir
from .common import cluster_root, stop, user_errors


def add_down(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser(
        "down",
        help="stop every node (SIGTERM, SIGKILL after 5 s)",
        description="Stop every node of the cluster: SIGTERM (and SIGCONT, so paused nodes "
        "can act on it), then SIGKILL for any still running after 5 s. Data dirs are kept; "
        "`cluster up DIR` starts the same chain again.",
    )
    add_dir_option(p, positional=True)
    p.set_defaults(run=user_errors(_run_down))


def _run_down(args: argparse.Namespace) -> int:
    from rich.console import Console

    stop(Cluster(cluster_root(given_dir(args))), Console())
    return 0


# ---- per-node faults -------------------------------------------------------------------------

NODE_ACTIONS: dict[str, tuple[Callable[[Cluster, str], int], str, str]] = {
    "kill": (Cluster.kill, "crash a node: SIGKILL, no chance to clean up", "killed"),
    "restart": (
        Cluster.restart,
        "kill a node if it runs, then start it again with its config and data",
        "started",
    ),
    "pause": (
        Cluster.pause,
        "freeze a node with SIGSTOP: it keeps its sockets but answers nothing",
        "paused",
    ),
    "resume": (Cluster.resume, "thaw a paused node with SIGCONT", "resumed"),
}


def add_node_actions(actions: argparse._SubParsersAction) -> None:
    for action, (_, help_text, _) in NODE_ACTIONS.items():
        p = actions.add_parser(
            action, help=help_text, description=help_text[0].upper() + help_text[1:] + "."
        )
        p.add_argument("node", metavar="NODE", help="node name, e.g. n2")
        add_dir_option(p)
        p.set_defaults(run=user_errors(_run_node_action))


def _run_node_action(args: argparse.Namespace) -> int:
    method, _, done = NODE_ACTIONS[args.action]
    pid = method(Cluster(cluster_root(args.dir)), args.node)
    print(f"{args.node}: {done} (pid {pid})")
    return 0


# ---- partitions ------------------------------------------------------------------------------


def add_partition(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser(
        "partition",
        help='split the running nodes into groups that cannot hear each other, e.g. "n1|n2,n3"',
        description="Cut the network between groups of nodes: each named node stops sending "
        "to, and ignores everything from, the nodes of the other groups (a message-level "
        "partition; the TCP links stay up). Nodes not named keep all their links, so they "
        "hear both sides; name every node for a clean split. A new partition replaces the "
        "previous one; `cluster heal` ends it. A node restarted meanwhile comes back healed.",
    )
    p.add_argument(
        "groups", metavar="GROUPS", help="groups separated by '|', nodes by ',': n1,n2|n3,n4"
    )
    add_dir_option(p)
    p.set_defaults(run=user_errors(_run_partition))


def add_heal(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser(
        "heal",
        help="end a partition: every node hears every other again",
        description="End any partition: every running node talks to every other again.",
    )
    add_dir_option(p)
    p.set_defaults(run=user_errors(_run_heal))


def _run_partition(args: argparse.Namespace) -> int:
    from ...cluster.admin import admin_targets, call_each

    cluster = Cluster(cluster_root(args.dir))
    cuts = partition_cuts(args.groups, cluster.names)
    calls = {
        name: ("partition", {"peers": cuts[name]}) if name in cuts else ("heal", {})
        for name in cluster.names
    }
    return _report_admin(call_each(admin_targets(cluster), calls))


def _run_heal(args: argparse.Namespace) -> int:
    from ...cluster.admin import admin_targets, call_each

    cluster = Cluster(cluster_root(args.dir))
    return _report_admin(
        call_each(admin_targets(cluster), dict.fromkeys(cluster.names, ("heal", {})))
    )


def _report_admin(answers: dict[str, Any]) -> int:
    """One line per node; exit status 1 when a node could not be reached."""
    from ...api_protocol import ApiError

    for name, answer in answers.items():
        if isinstance(answer, ApiError):
            print(f"{name}: failed: {answer}", file=sys.stderr)
        else:
            cut = answer["partitioned_from"]
            print(f"{name}: {'cut off from ' + ', '.join(cut) if cut else 'connected to all'}")
    return 1 if any(isinstance(a, ApiError) for a in answers.values()) else 0
