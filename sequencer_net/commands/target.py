"""Which cluster and which node a command works on, decided in one place for every command.

A cluster is the DIR a command is given (``--dir D``, or the positional ``[DIR]`` some
`cluster` actions also take), else the one `cluster up` started last from this working
directory (runs/.current). A node is a name from that cluster's genesis, or the HOST:PORT of a
node's client API. Commands that read node files rather than ask nodes (`evidence`,
`censorship report`) also take one node's dir or data dir (:func:`select_nodes`). The config
loader is imported only when a command runs: `--help` stays fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeGuard

from ..cluster.layout import Layout
from ..cluster.state import current_cluster_dir
from .errors import UsageError

if TYPE_CHECKING:
    from ..config import GenesisFile

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


def check_cluster_dir(dir: Path) -> None:
    """Refuse (usage error) a DIR given on the command line that is not a cluster dir."""
    if not dir.exists():
        raise UsageError(f"{dir}: no such directory")
    if not dir.is_dir():
        raise UsageError(f"{dir}: not a directory")
    if not (dir / "genesis.toml").is_file():
        raise UsageError(
            f"{dir} is not a cluster dir (no genesis.toml); create one with "
            "`sequencer-net cluster init`"
        )


def is_address(node: str | None) -> TypeGuard[str]:
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
    root = cluster_dir(
        directory,
        "no cluster given: pass --node HOST:PORT or --dir, or start one with `cluster up`",
    )
    genesis = _genesis(Layout(root).genesis)
    return {name: addresses.client for name, addresses in genesis.addresses.items()}


def _genesis(path: Path) -> GenesisFile:
    from ..config import ConfigError, load_genesis  # the config loader, only when run

    try:
        return load_genesis(path)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def client_targets(node: str | None, directory: Path | None, every: bool = False) -> dict[str, str]:
    """Name -> client address of the node asked for: HOST:PORT as given, a name looked up in
    the cluster dir, or with no ``node`` the first node (or every node if ``every``)."""
    if node is not None and is_address(node):
        return {node: node}
    addresses = client_addresses(directory)
    if node:
        return {check_node(node, addresses): addresses[node]}
    return addresses if every else dict([next(iter(addresses.items()))])


# ---- which nodes' files ---------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """The chosen nodes' data dirs by name; ``genesis`` is None for a lone node's dir."""

    data_dirs: dict[str, Path]
    genesis: GenesisFile | None


def select_nodes(node: str | None, directory: Path | None) -> Selection:
    """``--dir`` as a cluster dir (every node, or ``--node``), or as one node's dir or data
    dir; default the cluster started last."""
    root = cluster_dir(
        directory,
        "no cluster given: pass --dir (a cluster dir or a node data dir), "
        "or start one with `cluster up`",
    )
    if not root.is_dir():
        raise UsageError(f"{root}: no such directory")
    layout = Layout(root)
    if not layout.genesis.exists():
        if node:
            raise UsageError(f"--node needs a cluster dir; {root} has no genesis.toml")
        data = root / "data" if (root / "data").is_dir() else root
        name = root.resolve().parent.name if root.name == "data" else root.resolve().name
        return Selection({name: data}, None)
    genesis = _genesis(layout.genesis)
    names = [v.name for v in genesis.genesis.validators]
    if node:
        names = [check_node(node, names, str(root))]
    return Selection({name: layout.data(name) for name in names}, genesis)
