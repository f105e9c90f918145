"""Which nodes' files a reading command looks at: `--dir` (a cluster dir, or one node's dir or
data dir) and `--node NAME`, defaulting to every node of the cluster started last."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..cluster.layout import Layout
from .errors import UsageError
from .target import check_node, cluster_dir

if TYPE_CHECKING:
    from ..config import GenesisFile


@dataclass(frozen=True)
class Selection:
    """The chosen nodes' data dirs by name; ``genesis`` is None for a lone node's dir."""

    data_dirs: dict[str, Path]
    genesis: GenesisFile | None


def select_nodes(node: str | None, directory: Path | None) -> Selection:
    from ..config import ConfigError, load_genesis  # the config loader, only when run

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
    try:
        genesis = load_genesis(layout.genesis)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    names = [v.name for v in genesis.genesis.validators]
    if node:
        names = [check_node(node, names, str(root))]
    return Selection({name: layout.data(name) for name in names}, genesis)
