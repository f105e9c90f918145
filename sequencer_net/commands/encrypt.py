"""`tx send --encrypt`: the set's threshold public key, from genesis on this machine.

The key comes from a genesis file (``--genesis``, else the cluster dir's), never from a node:
an entry node that answered with a key of its own could read what it was sent.
"""

from __future__ import annotations

from pathlib import Path

from ..cluster.layout import Layout
from .errors import UsageError
from .target import _genesis, cluster_dir

NO_GENESIS = (
    "--encrypt needs the chain's genesis for its public key: pass --genesis PATH or --dir, "
    "or start a cluster with `cluster up --private`"
)


def threshold_public_key(genesis: Path | None, directory: Path | None) -> bytes:
    """The public key in ``genesis`` (or the chosen cluster dir's genesis.toml)."""
    path = genesis if genesis is not None else Layout(cluster_dir(directory, NO_GENESIS)).genesis
    private = _genesis(path).genesis.private
    if private is None:
        raise UsageError(
            f"{path} has no [private] table: this chain takes no encrypted transactions "
            "(create the cluster with `cluster init --private`)"
        )
    return private.public_key
