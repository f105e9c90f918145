"""Per-host bundles (`cluster init --hosts`): for each host, the files to copy there and
nothing else. DIR/bundles/HOST/ holds genesis.toml and, for each node on HOST, its node.toml,
key and admin token (mode 0600) and an empty data dir, plus the deploy files for those nodes.

No other node's key or token goes into a bundle, so the operator of one host never holds
another's secrets; the cluster dir itself still holds all of them, and whoever ran `init`
should keep it offline or delete it once the bundles are shipped (docs/deploy.md).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..config.secrets import write_private
from .deploy import write_deploy
from .layout import Layout
from .plan import NodeAddresses


def bundle_name(host: str) -> str:
    """A dir name for ``host``: IPv6 colons become underscores."""
    return host.replace(":", "_")


def write_bundles(
    layout: Layout,
    nodes: Mapping[str, NodeAddresses],
    chain_id: str,
    deploy: str | None,
    source: str | None,
) -> dict[str, Path]:
    """One bundle per host, in the order hosts first appear; returns them by host."""
    by_host: dict[str, list[NodeAddresses]] = {}
    for node in nodes.values():
        by_host.setdefault(node.host, []).append(node)
    written = {}
    for host, on_host in by_host.items():
        bundle = Layout(layout.bundles / bundle_name(host))
        bundle.root.mkdir(parents=True)
        shutil.copyfile(layout.genesis, bundle.genesis)
        for node in on_host:
            _copy_node(layout, bundle, node.name)
        if deploy is not None:
            write_deploy(deploy, bundle.root, on_host, chain_id, source, local=False)
        written[host] = bundle.root
    return written


def _copy_node(source: Layout, bundle: Layout, name: str) -> None:
    bundle.node_dir(name).mkdir()
    bundle.data(name).mkdir()
    shutil.copyfile(source.node_config(name), bundle.node_config(name))
    for secret, what in ((Layout.key, "key file"), (Layout.admin_token, "admin token")):
        text = secret(source, name).read_text().strip()
        write_private(secret(bundle, name), text, what)


def bundle_nodes(bundle: Path) -> Sequence[str]:
    """The nodes a bundle holds (those with a node.toml), for reports and tests."""
    return sorted(p.parent.name for p in bundle.glob("*/node.toml"))
