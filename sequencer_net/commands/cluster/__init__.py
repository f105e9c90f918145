"""`sequencer-net cluster ...`: a real cluster of node processes on this machine.

``up`` creates and starts clusters (`init`, `up`), ``inspect`` shows them (`status`, `list`),
``disturb`` stops and disturbs them (`down`, `kill`, `restart`, `pause`, `resume`, `partition`,
`heal`); ``common`` holds what they share."""

from __future__ import annotations

import argparse
import functools

from .disturb import add_down, add_heal, add_node_actions, add_partition
from .inspect import add_list, add_status
from .up import add_init, add_up

EXAMPLES = """\
examples:
  sequencer-net cluster up configs/local-4.toml   start 4 nodes, watch them; Ctrl-C stops all
  sequencer-net cluster up --nodes 4 --detach     start in the background, print the dir
  sequencer-net cluster status                    the cluster started last (runs/.current)
  sequencer-net cluster list                      every cluster started here, running or not
  sequencer-net cluster kill n2                   crash a node (SIGKILL) ...
  sequencer-net cluster restart n2                ... and bring it back with its data
  sequencer-net cluster pause n3                  freeze a node (SIGSTOP); `resume n3` thaws it
  sequencer-net cluster partition "n1|n2,n3,n4"   cut n1 off from the others ...
  sequencer-net cluster heal                      ... and reconnect everyone
  sequencer-net cluster down                      stop every node (SIGTERM, then SIGKILL)
"""


def add_cluster_commands(commands: argparse._SubParsersAction) -> None:
    """Register `cluster` and its actions on the `sequencer-net` subcommands."""
    parser = commands.add_parser(
        "cluster",
        help="run a real cluster of node processes on this machine",
        description="Create and run a local cluster: one OS process per validator, listening\n"
        "on 127.0.0.1 (or each on its own loopback address with `init --hosts`), each\n"
        "node's files under DIR/NAME/. For nodes on separate hosts, `init --hosts` writes\n"
        "a bundle per host and `--deploy` compose or systemd files (docs/deploy.md).\n"
        "Every action on a cluster takes --dir DIR (status, down and up also a positional\n"
        "DIR) and defaults to the cluster started last from here (runs/.current).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=functools.partial(_print_help, parser))
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    add_init(actions)
    add_up(actions)
    add_status(actions)
    add_list(actions)
    add_down(actions)
    add_node_actions(actions)
    add_partition(actions)
    add_heal(actions)


def _print_help(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    parser.print_help()
    return 2
