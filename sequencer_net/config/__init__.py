"""The files a cluster runs from: genesis.toml, one node.toml per node, and cluster specs.

Every loader reads a whole file and checks it before anything starts, so a typo becomes one
:class:`ConfigError` naming the file and the offending key instead of a node that dies later
with a traceback. Unknown keys are refused too: a misspelt optional key would otherwise be
silently ignored. Writers use ``tomli_w`` and produce exactly what the loaders accept.

Peer and client addresses may be any IP address or hostname (peer links are authenticated
and sealed, the client API is bounded per connection); the admin address must be on loopback,
always, and the metrics address defaults to it.

Modules: ``schema`` (reading a TOML table with file-and-key errors), ``sections`` (tables
several files share), ``genesis_file``, ``node_file``, ``cluster_spec`` and ``secrets`` (key and
admin token files, mode 0600). :class:`NodeParams` is re-exported from ``node_params``.
"""

from ..node_params import NodeParams
from .cluster_spec import DEFAULT_STAKE, MAX_NODES, ClusterSpec, SpecError, load_cluster_spec
from .genesis_file import Addresses, GenesisFile, load_genesis, write_genesis
from .node_file import (
    LOG_LEVELS,
    LogSettings,
    NodeConfig,
    load_node_config,
    write_node_config,
)
from .schema import NAME_PATTERN, NAME_RULE, ConfigError
from .secrets import ADMIN_TOKEN_BYTES, SEED_SIZE, write_admin_token, write_key

__all__ = [
    "ADMIN_TOKEN_BYTES",
    "DEFAULT_STAKE",
    "LOG_LEVELS",
    "MAX_NODES",
    "NAME_PATTERN",
    "NAME_RULE",
    "SEED_SIZE",
    "Addresses",
    "ClusterSpec",
    "ConfigError",
    "GenesisFile",
    "LogSettings",
    "NodeConfig",
    "NodeParams",
    "SpecError",
    "load_cluster_spec",
    "load_genesis",
    "load_node_config",
    "write_admin_token",
    "write_genesis",
    "write_key",
    "write_node_config",
]
