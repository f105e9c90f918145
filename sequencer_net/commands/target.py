"""Which cluster and which node a command works on, decided in one place for every command.

A cluster is the DIR a command is given (``--dir D``, or the positional ``[DIR]`` the
`cluster` actions also take), else the one `cluster up` started last from this working
directory (runs/.current). A node is a name from that cluster's genesis, or the HOST:PORT of a
node's client API. The config loader is imported only when a command runs: `--help` stays fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path

from ..cluster.state import current_cluster_dir
from .errors import UsageError

DIR_HELP = "cluster dir (default: the cluster started last, runs/.current)"
NODE_DIRS_HELP = "a cluster dir, a node dir or a node data dir (default: the cluster started last)"
NO_CLUSTER = "no cluster given: pass --dir, or start one with `cluster up`"


def add_dir_option(
    parser: argparse.ArgumentParser, help: str = DIR_HELP, positional: bool = False
) -> None:
    """``--dir DIR`` on a command; with ``positional`` also ``[DIR]``, which scripts use.
    :func:`given_dir` reads the two back as one."""
    if positional:
        parser.add_argument("dir_arg", nargs="?", type=Path, metavar="DIR", help="same as --dir")
    parser.add_argument("--dir", type=Path, metavar="DIR", help=help)


def given_dir(args: argparse.Namespace) -> Path | None:
    """The dir from ``[DIR]`` or ``--dir``; both at once only when they agree."""
    positional, option = getattr(args, "dir_arg", None), args.dir
    if positional is not None and option is not None and positional != option:
        raise UsageError(f"two cluster dirs given ({positional} and --dir {option}); give one")
    return positional if positional is not None else option


def chosen_dir(explicit: Path | None) -> Path | None:
    """``explicit``, else the cluster started last, else None."""
    return explicit or current_cluster_dir()


def cluster_dir(
    explicit: Path | None, missing: str = NO_CLUSTER, error: type[Exception] = UsageError
) -> Path:
    """``explicit``, else the cluster started last; ``error(missing)`` when there is neither."""
    root = chosen_dir(explicit)
    if root is None:
        raise error(missing)
    return root


def is_address(node: str | None) -> bool:
    """A HOST:PORT rather than a node name (names have no colon)."""
    return node is not None and ":" in node


def check_node(node: str, names: Iterable[str], where: str = "the cluster") -> str:
    """``node`` if it is one of ``names``, else a usage error listing them."""
    names = list(names)
    if node not in names:
        raise UsageError(f"no node {node!r} in {where} (nodes: {', '.join(names)})")
    return node


def client_addresses(directory: Path | None) -> dict[str, str]:
    """Node name -> client address, from the cluster dir's genesis file."""
    from ..config import ConfigError, load_genesis

    root = cluster_dir(
        directory,
        "no cluster given: pass --node HOST:PORT or --dir, or start one with `cluster up`",
    )
    try:
        genesis = load_genesis(root / "genesis.toml")
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    return {name: addresses.client for name, addresses in genesis.addresses.items()}


def client_targets(node: str | None, directory: Path | None, every: bool = False) -> dict[str, str]:
    """Name -> client address of the node asked for: HOST:PORT as given, a name looked up in
    the cluster dir, or with no ``node`` the first node (or every node if ``every``)."""
    if node is not None and is_address(node):
        return {node: node}
    addresses = client_addresses(directory)
    if node:
        return {check_node(node, addresses): addresses[node]}
    return addresses if every else dict([next(iter(addresses.items()))])
