"""The emulated WAN: the ``[network]`` table of a cluster spec and of node.toml.

This machine's kernel has no netem, so a wide-area network is emulated in the link layer: each
node holds back every frame it sends to a peer by that pair's one-way delay plus a seeded
random jitter. A cluster spec places each node in a region and gives the latency of every pair
of regions; ``cluster init`` resolves that into each node's own ``[network]`` table in its
node.toml (its region, the seed, and the delay to each peer), since a node needs nothing more
and emulation is not part of consensus (genesis stays the same with or without it).

A frame's one-way delay is ``delay_ms`` plus a uniform draw from ``[0, jitter_ms]``, so
``delay_ms`` is the least it can take and a round trip between regions A and B takes at least
twice the pair's ``delay_ms``. Two nodes in one region have no delay unless the spec lists the
region with itself.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..latency import NO_LATENCY, LinkLatency
from .schema import NAME_PATTERN, NAME_RULE, Table

MAX_DELAY_MS = 10_000  # a one-way delay beyond this is a typo, not a network
PAIR_SEPARATOR = "/"


@dataclass(frozen=True)
class NetworkSpec:
    """A cluster spec's ``[network]``: each node's region and each region pair's latency.
    ``latency`` is keyed by sorted region pairs (a region with itself for nodes that share it)."""

    seed: int
    regions: Mapping[str, str]  # node name -> region
    latency: Mapping[tuple[str, str], LinkLatency]

    def between(self, a: str, b: str) -> LinkLatency:
        """The latency from node ``a`` to node ``b`` (the matrix is symmetric)."""
        ra, rb = self.regions[a], self.regions[b]
        return self.latency.get(pair(ra, rb), NO_LATENCY)

    def matrix(self, names: list[str]) -> tuple[tuple[LinkLatency, ...], ...]:
        """The latency from each of ``names`` to each (the simulator's form, by index)."""
        return tuple(tuple(self.between(a, b) for b in names) for a in names)

    def for_node(self, name: str) -> NodeNetwork:
        """What node ``name`` applies: its region and its delay to every other node."""
        peers = {other: self.between(name, other) for other in self.regions if other != name}
        return NodeNetwork(self.regions[name], self.seed, peers)


@dataclass(frozen=True)
class NodeNetwork:
    """node.toml's ``[network]``: this node's region and its outbound delay to each peer."""

    region: str
    seed: int
    peers: Mapping[str, LinkLatency]

    def rng(self, own: str, peer: str) -> random.Random:
        """The jitter generator of the link ``own`` -> ``peer``: one per link, from the seed."""
        return random.Random(f"{self.seed}/{own}/{peer}")


def pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def _latency(table: Table, key: str) -> LinkLatency:
    """A ``{ delay_ms = D, jitter_ms = J }`` table: non-negative, bounded integers."""
    entry = table.table(key)
    entry.only(["delay_ms", "jitter_ms"])
    delay = entry.integer("delay_ms")
    jitter = entry.integer("jitter_ms", 0)
    for name, value in (("delay_ms", delay), ("jitter_ms", jitter)):
        if not 0 <= value <= MAX_DELAY_MS:
            raise entry.error(name, f"must be 0..{MAX_DELAY_MS} ms, got {value}")
    return LinkLatency(delay, jitter)


def _region_name(table: Table, key: str, value: str) -> str:
    if not NAME_PATTERN.fullmatch(value) or PAIR_SEPARATOR in value:
        raise table.error(key, f"{value!r} is not a valid region name: use {NAME_RULE}")
    return value


def network_spec(table: Table, node_names: list[str]) -> NetworkSpec:
    """A cluster spec's ``[network]``: ``seed``, ``regions`` (the names), ``[network.nodes]``
    (node = region, every node) and ``[network.latency]`` ("a/b" = { delay_ms, jitter_ms },
    every pair of distinct regions)."""
    table.only(["seed", "regions", "nodes", "latency"])
    seed = table.integer("seed", 0)
    regions = [
        _region_name(table, f"regions[{i}]", r) for i, r in enumerate(table.strings("regions"))
    ]
    if not regions:
        raise table.error("regions", "missing (expected an array of region names)")
    if len(set(regions)) != len(regions):
        raise table.error("regions", f"a region is listed twice in {regions}")
    nodes = table.table("nodes")
    placed: dict[str, str] = {}
    for node in nodes.data:
        if node not in node_names:
            raise nodes.error(node, f"no such node (this cluster has n1..n{len(node_names)})")
        region = nodes.string(node)
        if region not in regions:
            raise nodes.error(node, f"unknown region {region!r} (regions are {', '.join(regions)})")
        placed[node] = region
    missing = [n for n in node_names if n not in placed]
    if missing:
        raise nodes.error(missing[0], "missing: every node needs a region")
    matrix = table.table("latency")
    latency: dict[tuple[str, str], LinkLatency] = {}
    for key in matrix.data:
        a, sep, b = key.partition(PAIR_SEPARATOR)
        if not sep:
            raise matrix.error(
                key, f'expected a pair of regions, e.g. "{regions[0]}/{regions[-1]}"'
            )
        for region in (a, b):
            if region not in regions:
                raise matrix.error(
                    key, f"unknown region {region!r} (regions are {', '.join(regions)})"
                )
        if pair(a, b) in latency:
            raise matrix.error(key, f"the pair {a}/{b} is given twice")
        latency[pair(a, b)] = _latency(matrix, key)
    for i, a in enumerate(regions):
        for b in regions[i + 1 :]:
            if pair(a, b) not in latency:
                raise matrix.error(
                    f"{a}/{b}", "missing: every pair of distinct regions needs a latency"
                )
    return NetworkSpec(seed, placed, latency)


def network_document(spec: NetworkSpec) -> dict[str, Any]:
    """A cluster spec's ``[network]`` as written: the inverse of :func:`network_spec`."""
    regions = sorted(set(spec.regions.values()) | {r for p in spec.latency for r in p})
    return {
        "seed": spec.seed,
        "regions": regions,
        "nodes": dict(spec.regions),
        "latency": {
            f"{a}{PAIR_SEPARATOR}{b}": _latency_document(v) for (a, b), v in spec.latency.items()
        },
    }


def node_network(table: Table) -> NodeNetwork:
    """node.toml's ``[network]``: ``region``, ``seed`` and ``[network.peers.NAME]`` latencies."""
    table.only(["region", "seed", "peers"])
    region = _region_name(table, "region", table.string("region"))
    seed = table.integer("seed", 0)
    peers_table = table.table("peers")
    peers = {name: _latency(peers_table, name) for name in peers_table.data}
    return NodeNetwork(region, seed, peers)


def node_network_document(network: NodeNetwork) -> dict[str, Any]:
    """node.toml's ``[network]`` as written: the inverse of :func:`node_network`."""
    return {
        "region": network.region,
        "seed": network.seed,
        "peers": {name: _latency_document(v) for name, v in network.peers.items()},
    }


def _latency_document(latency: LinkLatency) -> dict[str, int]:
    return {"delay_ms": latency.delay_ms, "jitter_ms": latency.jitter_ms}
