"""The local cluster launcher: create a cluster dir, run one OS process per node, inspect and
disturb them (kill, pause, restart), and stop them all.

Modules: ``layout`` (where files live), ``ports`` (free ports), ``init`` (create a dir),
``procs`` (process primitives), ``state`` (cluster.json and runs/.current), ``control`` (the
:class:`Cluster` operations), ``startup`` (wait until every node answers), ``registry`` (the
clusters known here, for ``list``), ``probe`` and ``status`` (what the nodes report), ``watch``
(the live table), ``cli`` (the ``sequencer-net cluster`` commands).
"""

from .control import Cluster, node_command
from .errors import ClusterError
from .init import init_cluster

__all__ = ["Cluster", "ClusterError", "init_cluster", "node_command"]
