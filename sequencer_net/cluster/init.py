"""`cluster init`: turn a ClusterSpec into a cluster dir that `cluster up` can start."""

from __future__ import annotations

from pathlib import Path

from ..config import (
    Addresses,
    ClusterSpec,
    write_admin_token,
    write_genesis,
    write_key,
    write_node_config,
)
from ..crypto import PrivateKey
from ..genesis import Genesis
from ..validators import Validator
from .errors import ClusterError
from .layout import Layout
from .ports import free_ports
from .prometheus import write_prometheus_config
from .state import RUNS

PORTS_PER_NODE = 4  # peer, client, admin, metrics


def fresh_dir(name: str, runs: Path = RUNS) -> Path:
    """runs/NAME, or runs/NAME-2, -3, ... when taken: every `up` from a spec gets new keys."""
    candidate = runs / name
    suffix = 1
    while candidate.exists():
        suffix += 1
        candidate = runs / f"{name}-{suffix}"
    return candidate


def init_cluster(spec: ClusterSpec, dir: Path) -> Path:
    """Create genesis.toml, the admin token, prometheus.yml and, per node, node.toml (with its
    faults, log level and loopback admin and metrics ports), a fresh key and an empty data dir.

    Returns the absolute cluster dir. Refuses a non-empty dir: it may hold another cluster's
    keys and chain, and mixing two clusters' files would make nodes refuse each other."""
    root = Path(dir).absolute()
    if root.exists() and not root.is_dir():
        raise ClusterError(f"{root} exists and is not a directory")
    if root.is_dir() and any(root.iterdir()):
        raise ClusterError(
            f"{root} is not empty; refusing to overwrite it (pick another --dir or remove it)"
        )
    root.mkdir(parents=True, exist_ok=True)
    layout = Layout(root)
    names = spec.node_names
    ports = iter(free_ports(PORTS_PER_NODE * len(names)))
    keys = {name: PrivateKey.generate() for name in names}
    addresses = {
        name: Addresses(peer=f"127.0.0.1:{next(ports)}", client=f"127.0.0.1:{next(ports)}")
        for name in names
    }
    validators = tuple(
        Validator(name, keys[name].public_key, stake)
        for name, stake in zip(names, spec.stakes, strict=True)
    )
    genesis = Genesis(spec.chain_id, validators, spec.timeouts, spec.chain, spec.namespaces)
    write_genesis(layout.genesis, genesis, addresses)
    write_admin_token(layout.admin_token)
    metrics = {name: f"127.0.0.1:{next(ports)}" for name in names}
    for name in names:
        layout.node_dir(name).mkdir()
        layout.data(name).mkdir()
        write_key(layout.key(name), keys[name])
        write_node_config(
            layout.node_config(name),
            name,
            params=spec.params,
            faults=spec.faults.get(name, ()),
            admin_address=f"127.0.0.1:{next(ports)}",
            metrics_address=metrics[name],
            log_level=spec.log_level,
            network=spec.network.for_node(name) if spec.network else None,
        )
    write_prometheus_config(layout.prometheus, metrics)
    return root
