"""`sequencer-net watch [DIR]`: a live full-terminal view of any running cluster."""

from __future__ import annotations

import argparse
import json

from .arguments import number
from .cluster.common import cluster_root, user_errors
from .errors import UsageError
from .target import add_dir_option, given_dir

DEFAULT_INTERVAL_S = 1.0


def add_watch_command(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "watch",
        help="a live view of a running cluster: heights, rounds, faults, tx/s, events",
        description="Watch a running cluster (started detached or not) until Ctrl-C: per "
        "node its process state, height, round, step, seconds since its last commit, peers "
        "heard, mempool and active faults; for the cluster committed tx/s, heights/s and "
        "commit latency (proposal timestamp to commit) over the last 10 s; and the latest "
        "events (deaths and restarts, faults, partitions, evidence, slashes, stalls). A chain "
        "no node has committed on for 3 rounds' worth of timeouts shows as HALTED. It only "
        "reads: stopping the view leaves the cluster running.",
    )
    add_dir_option(p, positional=True)
    p.add_argument(
        "--interval",
        type=number(0.01, 3600),
        default=DEFAULT_INTERVAL_S,
        metavar="S",
        help=f"seconds between polls (default {DEFAULT_INTERVAL_S:g})",
    )
    p.add_argument(
        "--duration", type=number(0), metavar="S", help="stop after S seconds (default: Ctrl-C)"
    )
    p.add_argument(
        "--once",
        action="store_true",
        help="poll until every running node answered, print one frame and exit",
    )
    p.add_argument(
        "--json", action="store_true", help="with --once: print the frame's data as JSON"
    )
    p.set_defaults(run=user_errors(_run_watch))


def _run_watch(args: argparse.Namespace) -> int:
    import trio
    from rich.console import Console

    from ..cluster.control import Cluster
    from ..cluster.frame import frame
    from ..cluster.monitor import watch

    if not args.interval > 0:
        raise UsageError(f"--interval must be positive, got {args.interval:g}")
    if args.duration is not None and not args.duration > 0:
        raise UsageError(f"--duration must be positive, got {args.duration:g}")
    if args.json and not args.once:
        raise UsageError("--json prints one frame: use it with --once")
    if args.once and args.duration is not None:
        raise UsageError("--once prints one frame; --duration is for the live view")
    cluster = Cluster(cluster_root(given_dir(args)))
    console = Console()
    last = trio.run(watch, cluster, console, args.interval, args.duration, args.once)
    if args.json:
        print(json.dumps(last.to_json()))
    elif args.once or console.is_terminal:  # the live view's screen is gone: keep its last
        console.print(frame(last))
    return 0
