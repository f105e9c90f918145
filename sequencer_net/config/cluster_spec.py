"""Cluster specs (configs/*.toml): what a user asks `cluster init/up` for, before any key exists.

:class:`ClusterSpec` checks its own values, so a spec built from command-line flags and one
loaded from a file are refused with the same :class:`SpecError`; the loader turns that into a
:class:`~sequencer_net.config.schema.ConfigError` naming the file and key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..consensus.config import Timeouts
from ..faults.spec import Fault
from ..genesis import ChainParams
from ..namespaces import Namespace
from ..node_params import NodeParams
from ..validators import MAX_TOTAL_POWER
from . import schema, sections
from .network import NetworkSpec, network_spec
from .node_file import LOG_LEVELS
from .schema import NAME_PATTERN, NAME_RULE, Table

DEFAULT_STAKE = 10
MAX_NODES = 100


class SpecError(ValueError):
    """A cluster spec value out of range; ``key`` says which, for file and flag errors alike."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class ClusterSpec:
    """What a user asks for: how many validators, their stakes, and shared settings.
    Empty ``stakes`` means DEFAULT_STAKE each; empty ``chain_id`` means the cluster name.
    ``log_level`` goes to every node.toml: "debug" keeps the per-height lines (`risk
    calibrate` reads them)."""

    name: str
    nodes: int
    stakes: tuple[int, ...] = ()
    chain_id: str = ""
    timeouts: Timeouts = field(default_factory=Timeouts)
    params: NodeParams = field(default_factory=NodeParams)
    chain: ChainParams = field(default_factory=ChainParams)
    faults: Mapping[str, tuple[Fault, ...]] = field(default_factory=dict)
    log_level: str = "info"
    namespaces: tuple[Namespace, ...] = ()
    # The machine each node runs on (``cluster init --hosts`` or ``host`` in [nodes.NAME]):
    # none means every node on 127.0.0.1 with free ports, else every node has one.
    hosts: Mapping[str, str] = field(default_factory=dict)
    # `[private] enabled = true`: deal a threshold encryption key at init (docs/private.md).
    private: bool = False
    network: NetworkSpec | None = None  # an emulated WAN (config/network.py); None: loopback as is

    def __post_init__(self) -> None:
        if not NAME_PATTERN.fullmatch(self.name):
            raise SpecError("name", f"{self.name!r} is not valid: use {NAME_RULE}")
        if not 1 <= self.nodes <= MAX_NODES:
            raise SpecError("nodes", f"must be 1..{MAX_NODES}, got {self.nodes}")
        if self.stakes and len(self.stakes) != self.nodes:
            raise SpecError("stakes", f"{len(self.stakes)} stakes for {self.nodes} nodes")
        if any(s <= 0 for s in self.stakes) or sum(self.stakes) > MAX_TOTAL_POWER:
            raise SpecError(
                "stakes",
                f"must be positive integers adding up to 2**60 at most, got {list(self.stakes)}",
            )
        if not self.stakes:
            object.__setattr__(self, "stakes", (DEFAULT_STAKE,) * self.nodes)
        if not self.chain_id:
            object.__setattr__(self, "chain_id", self.name)
        if len(self.chain_id) > 64:
            raise SpecError("chain_id", f"must be 1..64 characters, got {len(self.chain_id)}")
        if self.log_level not in LOG_LEVELS:
            raise SpecError(
                "log_level", f"{self.log_level!r}: expected one of {', '.join(LOG_LEVELS)}"
            )
        unknown = sorted(set(self.faults) - set(self.node_names))
        if unknown:
            raise SpecError(
                "nodes", f"no node {unknown[0]!r} in this cluster (nodes are n1..n{self.nodes})"
            )
        if self.network is not None and sorted(self.network.regions) != sorted(self.node_names):
            raise SpecError("network", f"every node of n1..n{self.nodes} needs one region")

        _check_hosts(self.hosts, self.node_names)

    @property
    def node_names(self) -> list[str]:
        """n1..nN, the names the simulator uses too."""
        return [f"n{i}" for i in range(1, self.nodes + 1)]


def _check_hosts(hosts: Mapping[str, str], names: list[str]) -> None:
    if not hosts:
        return
    missing = [name for name in names if name not in hosts]
    if missing or len(hosts) != len(names):
        extra = sorted(set(hosts) - set(names))
        which = f"no node {extra[0]!r}" if extra else f"none for {', '.join(missing)}"
        raise SpecError("hosts", f"give a host for every node or for none ({which})")
    for name, host in hosts.items():
        problem = schema.host_problem(host)
        if problem is not None:
            raise SpecError("hosts", f"{name}: {problem}")


def load_cluster_spec(path: Path | str) -> ClusterSpec:
    """Load a cluster spec (configs/*.toml): what `sequencer-net cluster init/up` start from."""
    path = Path(path)
    top = schema.load_table(path)
    top.only(
        ["cluster", "timeouts", "params", "chain", "namespaces", "nodes", "private", "network"]
    )
    if "cluster" not in top.data:
        raise top.error("cluster", "missing (expected a [cluster] table with name and nodes)")
    cluster = top.table("cluster")
    cluster.only(["name", "nodes", "stakes", "chain_id", "log_level"])
    name = cluster.string("name")
    nodes = cluster.integer("nodes")
    stakes = tuple(cluster.integers("stakes", []))
    chain_id = cluster.string("chain_id", "")
    log_level = cluster.string("log_level", "info")
    timeouts = sections.timeouts(top.table("timeouts"))
    params = sections.params(top.table("params"))
    chain = sections.chain_params(top.table("chain"))
    faults, hosts = _node_tables(top.table("nodes"), nodes)
    namespaces = sections.namespaces(top)
    private_table = top.table("private")
    private_table.only(["enabled"])
    private = private_table._get("enabled", bool, "a boolean", False)
    network = None
    if "network" in top.data and 1 <= nodes <= MAX_NODES:
        network = network_spec(top.table("network"), [f"n{i}" for i in range(1, nodes + 1)])
    try:
        return ClusterSpec(
            name,
            nodes,
            stakes,
            chain_id,
            timeouts,
            params,
            chain,
            faults,
            log_level,
            namespaces,
            hosts,
            private,
            network=network,
        )
    except SpecError as exc:
        if exc.key == "hosts":  # given per node, in [nodes.NAME]
            raise top.error("nodes", exc.problem) from None
        raise cluster.error(exc.key, exc.problem) from None


def _node_tables(table: Table, nodes: int) -> tuple[dict[str, tuple[Fault, ...]], dict[str, str]]:
    """The [nodes.NAME] tables: per-node faults, e.g. ``[nodes.n1] faults = ["mute"]``, and
    the host each node runs on (``host = "seq1.example.org"``)."""
    names = [f"n{i}" for i in range(1, nodes + 1)]
    faults, hosts = {}, {}
    for name in table.data:
        if name not in names:
            raise table.error(name, f"no such node (this cluster has n1..n{nodes})")
        node = table.table(name)
        node.only(["faults", "host"])
        if "faults" in node.data:
            faults[name] = sections.faults(node)
        if "host" in node.data:
            hosts[name] = node.string("host")
            problem = schema.host_problem(hosts[name])
            if problem is not None:
                raise node.error("host", problem)
    return faults, hosts
