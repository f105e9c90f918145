"""`cluster init --hosts` and `--deploy`: nodes on separate machines, and the files their
engines (compose, systemd) run them from. The flags are checked at parse time (exit 2)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError

if TYPE_CHECKING:
    from ...config import ClusterSpec

DEPLOY_KINDS = ("compose", "systemd")  # cluster.deploy.DEPLOY_KINDS, not imported: fast --help


def _hosts(text: str) -> tuple[str, ...]:
    from ...config.schema import host_problem

    hosts = tuple(part.strip() for part in text.split(","))
    for host in hosts:
        problem = host_problem(host) if host else "an empty host"
        if problem is not None:
            raise argparse.ArgumentTypeError(f"{problem} (in {text!r})")
    return hosts


def add_host_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--hosts",
        type=_hosts,
        metavar="H1,H2,...",
        help="the machine of each node, n1 first (an IP address or a hostname; this sets "
        "--nodes if neither it nor a spec does): genesis advertises HOST:26656 (peer) and "
        "HOST:26657 (client), 10 higher for each further node on a host, and DIR/bundles/HOST/ "
        "holds what to copy there (genesis and its nodes' dirs, keys and admin tokens, no "
        "one else's). A loopback IP (127.0.0.2) gets free ports instead, so all nodes can "
        "run here. A spec may give `host` in [nodes.NAME] instead",
    )
    p.add_argument(
        "--deploy",
        choices=DEPLOY_KINDS,
        help="also write deploy files: compose.yaml, a Dockerfile and .dockerignore (one "
        "service per node, data in volumes, metrics and client ports published), or "
        "systemd/sequencer-net-NAME.service units (restart on failure); in each bundle with "
        "hosts, else in DIR (compose then advertises the service names n1..nN)",
    )


def with_hosts(spec: ClusterSpec, hosts: tuple[str, ...] | None) -> ClusterSpec:
    """``spec`` with the --hosts list applied, one per node in order."""
    if hosts is None:
        return spec
    if len(hosts) != spec.nodes:
        raise UsageError(f"--hosts names {len(hosts)} hosts for {spec.nodes} nodes")
    return dataclasses.replace(spec, hosts=dict(zip(spec.node_names, hosts, strict=True)))


def report_bundles(root: Path, deploy: str | None) -> bool:
    """Tell the operator what was written for the hosts, on stderr (stdout is the dir);
    True if there are bundles (then `cluster up` here is not how the nodes start)."""
    from ...cluster.bundles import bundle_nodes
    from ...cluster.layout import Layout

    bundles = Layout(root).bundles
    if bundles.is_dir():
        for bundle in sorted(bundles.iterdir()):
            print(f"bundle {bundle}: {', '.join(bundle_nodes(bundle))}", file=sys.stderr)
        print("copy each to its host (docs/deploy.md)", file=sys.stderr)
        return True
    if deploy == "compose":  # genesis names the services: only compose resolves them
        print(f"start it with: cd {root} && docker compose up -d (docs/deploy.md)", file=sys.stderr)
        return True
    if deploy is not None:
        print(f"{deploy} files written in {root} (docs/deploy.md)", file=sys.stderr)
    return False
