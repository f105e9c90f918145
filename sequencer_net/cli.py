"""The ``sequencer-net`` command.

Building the parser must stay cheap, since every command and every ``--help`` pays for it:
command modules import trio, rich, PyNaCl, structlog and the node code inside the functions
that run a command, never at module level (tests/cli/test_cli_startup.py holds them to it)."""

from __future__ import annotations

import argparse
import os
import sys

from .commands.errors import EXIT_FAILED, EXIT_USAGE, Failure, UsageError, leaves

EXIT_INTERRUPTED = 130


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in == ["--version"]:
        print(_version())
        return 0
    try:
        return _dispatch(args_in)
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _dispatch(argv: list[str]) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # a usage error (2) or --help (0), already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if not hasattr(args, "run"):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.run(args)
    except BaseException as exc:
        return _report(args.command, exc)


def _report(command: str, exc: BaseException) -> int:
    """One line per known error inside ``exc`` (trio may group several); others re-raise."""
    found = leaves(exc)
    if any(isinstance(e, KeyboardInterrupt) for e in found):
        raise KeyboardInterrupt from None
    if any(isinstance(e, BrokenPipeError) for e in found):
        raise BrokenPipeError from None
    known = (UsageError, Failure, OSError)
    if not all(isinstance(e, known) for e in found):
        raise exc
    for error in dict.fromkeys(str(e) for e in found):
        print(f"sequencer-net {command}: error: {error}", file=sys.stderr)
    return EXIT_USAGE if all(isinstance(e, UsageError) for e in found) else EXIT_FAILED


def _quiet_broken_pipe() -> int:
    """The reader went away (``| head``): stop quietly, and keep Python's exit-time flush of
    stdout from raising again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_FAILED


def _version() -> str:
    from importlib.metadata import version

    return version("sequencer-net")


class _VersionAction(argparse.Action):
    """argparse's version action, but the version is looked up only when asked for."""

    def __init__(self, option_strings: list[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(_version())
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    from .commands.censorship import add_censorship_commands
    from .commands.client import add_client_commands
    from .commands.cluster import add_cluster_commands
    from .commands.evidence import add_evidence_commands
    from .commands.fault import add_fault_commands
    from .commands.namespace import add_namespace_commands
    from .commands.node import add_node_command
    from .commands.report import add_report_command
    from .commands.risk import add_risk_command
    from .commands.sim import add_sim_command
    from .commands.watch import add_watch_command

    parser = argparse.ArgumentParser(
        prog="sequencer-net",
        description="A decentralized, staked sequencer set: Tendermint BFT with slashable "
        "evidence. Start with `sequencer-net sim` (simulated) or `sequencer-net cluster up` (real "
        "processes on this machine). Exit status: 0 done, 1 what was asked did not happen, "
        "2 usage error.",
    )
    parser.add_argument(
        "--version", action=_VersionAction, help="show program's version number and exit"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_sim_command(commands)
    add_cluster_commands(commands)
    add_node_command(commands)
    add_watch_command(commands)
    add_client_commands(commands)
    add_namespace_commands(commands)
    add_evidence_commands(commands)
    add_fault_commands(commands)
    add_censorship_commands(commands)
    add_risk_command(commands)
    add_report_command(commands)
    return parser
