"""What the launcher remembers between commands.

DIR/cluster.json says which process runs each node of one cluster:

    {"nodes": {"n1": {"pid": 4242, "start_ticks": 91234,
                      "started_at": "2025-01-01T12:00:00+00:00"}}}

It is written atomically (temp file, then rename), and changed only under the dir's lock.

runs/.current (under the working directory) names the cluster `cluster up` started last, so
`cluster status`, `cluster kill n2` and the client commands need no path. runs/.clusters, the
clusters `cluster list` shows, belongs to ``registry``."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from .errors import ClusterError
from .procs import Proc

RUNS = Path("runs")


def load(path: Path) -> dict[str, Proc]:
    try:
        document = json.loads(path.read_text())
        return {name: Proc(**entry) for name, entry in document["nodes"].items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ClusterError(
            f"{path}: unreadable cluster state ({exc}); delete it and check "
            "for stray node processes with ps"
        ) from None


def save(path: Path, procs: dict[str, Proc]) -> None:
    temporary = path.with_suffix(".tmp")
    document = {"nodes": {name: asdict(proc) for name, proc in sorted(procs.items())}}
    temporary.write_text(json.dumps(document, indent=2) + "\n")
    os.replace(temporary, path)


@contextlib.contextmanager
def locked(lock: Path) -> Iterator[None]:
    with lock.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def set_current(root: Path, runs: Path = RUNS) -> None:
    runs.mkdir(parents=True, exist_ok=True)
    (runs / ".current").write_text(f"{root.absolute()}\n")


def current_cluster_dir(runs: Path = RUNS) -> Path | None:
    """The cluster started last from this working directory, if it still exists."""
    try:
        root = Path((runs / ".current").read_text().strip())
    except FileNotFoundError:
        return None
    return root if root.is_dir() else None
