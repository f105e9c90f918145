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
from .bundles import write_bundles
from .deploy import source_dir, write_deploy
from .errors import ClusterError
from .layout import Layout
from .plan import plan
from .prometheus import write_prometheus_config
from .state import RUNS


def fresh_dir(name: str, runs: Path = RUNS) -> Path:
    """runs/NAME, or runs/NAME-2, -3, ... when taken: every `up` from a spec gets new keys."""
    candidate = runs / name
    suffix = 1
    while candidate.exists():
        suffix += 1
        candidate = runs / f"{name}-{suffix}"
    return candidate


def init_cluster(spec: ClusterSpec, dir: Path, deploy: str | None = None) -> Path:
    """Create genesis.toml, prometheus.yml and, per node, node.toml (with its faults, log
    level, admin and metrics ports), a fresh key, its own admin token and an empty data dir.
    With hosts, also one bundle per host (:mod:`.bundles`); with ``deploy`` ("compose" or
    "systemd"), the deploy files, in each bundle or, without hosts, in the dir itself. With
    ``spec.private``, a dealt threshold key too (public side in genesis, each share in
    ``nK/threshold_share``).

    Returns the absolute cluster dir. Refuses a non-empty dir: it may hold another cluster's
    keys and chain, and mixing two clusters' files would make nodes refuse each other."""
    root = Path(dir).absolute()
    if root.exists() and not root.is_dir():
        raise ClusterError(f"{root} exists and is not a directory")
    if root.is_dir() and any(root.iterdir()):
        raise ClusterError(
            f"{root} is not empty; refusing to overwrite it (pick another --dir or remove it)"
        )
    names = spec.node_names
    nodes = plan(names, spec.hosts, compose=deploy == "compose")
    root.mkdir(parents=True, exist_ok=True)
    layout = Layout(root)
    keys = {name: PrivateKey.generate() for name in names}
    addresses = {
        name: Addresses(peer=nodes[name].peer, client=nodes[name].client) for name in names
    }
    validators = tuple(
        Validator(name, keys[name].public_key, stake)
        for name, stake in zip(names, spec.stakes, strict=True)
    )
    private, shares = None, {}
    if spec.private:
        from ..threshold.keys import deal

        private, dealt = deal([v.public_key for v in validators], list(spec.stakes))
        shares = dict(zip(names, dealt, strict=True))
    genesis = Genesis(
        spec.chain_id, validators, spec.timeouts, spec.chain, spec.namespaces, private
    )
    write_genesis(layout.genesis, genesis, addresses)
    for name in names:
        node = nodes[name]
        layout.node_dir(name).mkdir()
        layout.data(name).mkdir()
        write_key(layout.key(name), keys[name])
        write_admin_token(layout.admin_token(name))
        if name in shares:
            from ..config.private_section import SHARE_FILE, write_share

            write_share(layout.node_dir(name) / SHARE_FILE, shares[name])
        write_node_config(
            layout.node_config(name),
            name,
            params=spec.params,
            faults=spec.faults.get(name, ()),
            admin_address=node.admin,
            admin_token_file=layout.admin_token(name).name,
            metrics_address=node.metrics,
            log_level=spec.log_level,
            peer_listen=node.peer_listen,
            client_listen=node.client_listen,
            network=spec.network.for_node(name) if spec.network else None,
        )
    write_prometheus_config(layout.prometheus, {name: nodes[name].scrape for name in names})
    source = source_dir()
    if spec.hosts:
        write_bundles(layout, nodes, spec.chain_id, deploy, source)
    elif deploy is not None:
        write_deploy(deploy, root, list(nodes.values()), spec.chain_id, source, local=True)
    return root
