"""What the `cluster` actions share: which cluster, how errors map to exit statuses, and
stopping every node."""

from __future__ import annotations

import argparse
import contextlib
import functools
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ...cluster import state
from ...cluster.control import STOP_TIMEOUT_S, Cluster
from ...cluster.errors import ClusterError
from ..errors import Failure, UsageError
from ..target import check_cluster_dir, cluster_dir

if TYPE_CHECKING:  # the rest is imported where used, so `cluster --help` starts fast
    from rich.console import Console

Run = Callable[[argparse.Namespace], int]


NOT_STARTED = (
    f"no cluster started from here yet ({state.RUNS / '.current'} names none that exists); "
    "pass the cluster dir"
)


def user_errors(run: Run) -> Run:
    """Config problems become usage errors (exit 2), cluster problems failures (exit 1)."""

    @functools.wraps(run)
    def wrapped(args: argparse.Namespace) -> int:
        from ...config import ConfigError, SpecError

        try:
            return run(args)
        except (ConfigError, SpecError) as exc:
            raise UsageError(str(exc)) from None
        except ClusterError as exc:
            raise Failure(str(exc)) from None

    return wrapped


def cluster_root(dir: Path | None) -> Path:
    """A dir the user named that is no cluster dir is a usage error (exit 2); no cluster to
    default to is a failure (exit 1), as every cluster problem is."""
    if dir is not None:
        check_cluster_dir(dir)
    return cluster_dir(dir, NOT_STARTED, ClusterError)


@contextlib.contextmanager
def signals_ignored() -> Iterator[None]:
    """Stopping takes up to 5 s; a second Ctrl-C or a SIGTERM then must not orphan nodes."""
    handlers = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def stop(cluster: Cluster, console: Console) -> None:
    console.print(f"stopping nodes (SIGTERM, SIGKILL after {STOP_TIMEOUT_S:g} s) ...")
    running, killed = cluster.down()
    console.print(f"stopped {', '.join(running) or 'nothing: no node was running'}")
    if killed:
        console.print(f"[yellow]needed SIGKILL: {', '.join(killed)}[/]")
