"""The ``sequencer-net`` command."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import version

from .cluster.cli import add_cluster_commands
from .commands.censorship import add_censorship_commands
from .commands.client import add_client_commands
from .commands.errors import UsageError
from .commands.evidence import add_evidence_commands
from .commands.fault import add_fault_commands
from .commands.node import add_node_command
from .commands.sim import add_sim_command


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except UsageError as exc:
        print(f"sequencer-net {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sequencer-net",
        description="A decentralized, staked sequencer set: Tendermint BFT with slashable "
        "evidence. Start with `sequencer-net sim` (simulated) or `sequencer-net cluster up` (real "
        "processes on this machine).",
    )
    parser.add_argument("--version", action="version", version=version("sequencer-net"))
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_sim_command(commands)
    add_cluster_commands(commands)
    add_node_command(commands)
    add_client_commands(commands)
    add_evidence_commands(commands)
    add_fault_commands(commands)
    add_censorship_commands(commands)
    return parser
