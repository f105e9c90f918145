"""The local cluster launcher: create a cluster dir, run one OS process per node, inspect and
disturb them (kill, pause, restart), and stop them all.

Modules: ``layout`` (where files live), ``ports`` (free ports), ``init`` (create a dir),
``procs`` (process primitives), ``state`` (cluster.json and runs/.current), ``control`` (the
:class:`Cluster` operations), ``startup`` (wait until every node answers), ``registry`` (the
clusters known here, for ``list``), ``probe`` and ``status`` (what the nodes report), ``watch``
(the live table). The ``sequencer-net cluster`` commands are in ``commands/cluster/``.
"""

import importlib
from typing import TYPE_CHECKING

from .errors import ClusterError

if TYPE_CHECKING:
    from .control import Cluster, node_command
    from .init import init_cluster

_LAZY = {"Cluster": "control", "node_command": "control", "init_cluster": "init"}


def __getattr__(name: str) -> object:
    """Load control and init (the config loader, keys) on first use: `cluster --help` and
    the light commands start without them."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)


__all__ = ["Cluster", "ClusterError", "init_cluster", "node_command"]
