"""Which clusters this working directory knows, and which config each was made from.

`cluster list` shows them and `cluster up CONFIG` refuses to start a second cluster of a config
whose first still runs. Known clusters are every dir under runs/ with a genesis.toml, plus the
dirs elsewhere (`--dir`) that `init` or `up` created or started from here, one absolute path a
line in runs/.clusters. Each dir made from a spec records it in DIR/origin.json:

    {"config": "/abs/path/configs/local-4.toml"}     or     {"config": "--nodes 4"}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from . import state
from .control import Cluster
from .errors import ClusterError
from .layout import Layout
from .procs import ProcState
from .state import RUNS

RUNNING = (ProcState.ALIVE, ProcState.PAUSED)


def remember(root: Path, runs: Path = RUNS) -> None:
    """Add ``root`` to runs/.clusters, once."""
    root = root.absolute()
    if root not in _registered(runs):
        runs.mkdir(parents=True, exist_ok=True)
        with (runs / ".clusters").open("a") as f:
            f.write(f"{root}\n")


def _registered(runs: Path) -> list[Path]:
    try:
        return [Path(line) for line in (runs / ".clusters").read_text().splitlines() if line]
    except FileNotFoundError:
        return []


def known(runs: Path = RUNS) -> list[Path]:
    """Every cluster dir that still exists: those under ``runs`` first, then the others
    (runs/.current too, which may predate runs/.clusters)."""
    under = sorted(p.parent.absolute() for p in runs.glob("*/genesis.toml"))
    current = state.current_cluster_dir(runs)
    elsewhere = [*_registered(runs), *([current.absolute()] if current else [])]
    found = [*under, *(p for p in elsewhere if (p / "genesis.toml").is_file())]
    return list(dict.fromkeys(found))


def write_origin(layout: Layout, config: str) -> None:
    layout.origin.write_text(json.dumps({"config": config}) + "\n")


def read_origin(layout: Layout) -> str | None:
    """The config the dir was made from; None for a dir made before origins were recorded."""
    try:
        config = json.loads(layout.origin.read_text()).get("config")
    except (OSError, ValueError, AttributeError):
        return None
    return config if isinstance(config, str) else None


@dataclass(frozen=True)
class Known:
    """One row of `cluster list`; ``total`` is None when the dir cannot be read."""

    dir: Path
    config: str | None
    alive: int
    total: int | None

    @property
    def state(self) -> str:
        if self.total is None:
            return "unreadable"
        return "running" if self.alive else "stopped"

    def to_json(self) -> dict[str, object]:
        return {
            "dir": str(self.dir),
            "config": self.config,
            "alive": self.alive,
            "total": self.total,
            "state": self.state,
        }


def describe(root: Path) -> Known:
    from ..config import ConfigError  # imported here: `cluster --help` needs no config

    layout = Layout(root)
    try:
        processes = Cluster(root).processes()
    except (ClusterError, ConfigError, OSError):
        return Known(root, read_origin(layout), 0, None)
    alive = sum(p.state in RUNNING for p in processes)
    return Known(root, read_origin(layout), alive, len(processes))


def running_from(config: str, runs: Path = RUNS) -> list[Known]:
    """The known clusters made from ``config`` that have a node running."""
    found = []
    for root in known(runs):
        if read_origin(Layout(root)) == config:
            row = describe(root)
            if row.alive:
                found.append(row)
    return found
