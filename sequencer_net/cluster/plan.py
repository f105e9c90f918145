"""Which addresses each node of a new cluster gets: one place for `cluster init`, its bundles
and its deploy files, so genesis, node.toml, prometheus.yml and compose.yaml agree.

Three cases:

- no hosts: every node on 127.0.0.1 with ports the OS reports free (a local cluster);
- a host that is a loopback IP (127.0.0.2, say): the same, on that address, so a test or a
  demo can give every node an address of its own on one machine;
- any other host: the standard ports (peer 26656, client 26657, admin 26658, metrics 26660),
  10 higher for each further node on the same host. The node binds the host when it is an IP
  address and every interface (0.0.0.0) when it is a name, which may resolve to another
  address on the host itself; so does every node in a container (``--deploy compose``, where
  the hosts default to the service names n1..nN). The admin port is always on loopback.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from .ports import free_ports

PEER_PORT, CLIENT_PORT, ADMIN_PORT, METRICS_PORT = 26656, 26657, 26658, 26660
PORT_STEP = 10  # between two nodes on one host
WILDCARD = "0.0.0.0"
LOCAL = "127.0.0.1"


@dataclass(frozen=True)
class NodeAddresses:
    """One node's addresses as its files write them (host:port, IPv6 in brackets).
    ``peer`` and ``client`` are advertised in genesis; ``*_listen`` are where it binds when
    that differs (None: the advertised address); ``scrape`` is where Prometheus finds it."""

    name: str
    host: str
    peer: str
    client: str
    admin: str
    metrics: str
    scrape: str
    peer_listen: str | None = None
    client_listen: str | None = None


def joined(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def port_of(address: str) -> int:
    return int(address.rpartition(":")[2])


def _is_loopback_ip(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def plan(
    names: Sequence[str], hosts: Mapping[str, str], compose: bool = False
) -> dict[str, NodeAddresses]:
    """Every node's addresses; ``compose`` puts each node in a container of its own."""
    if compose and not hosts:
        hosts = {name: name for name in names}
    chosen = {name: _normal(hosts.get(name, LOCAL)) for name in names}
    local = Counter(h for h in chosen.values() if _is_loopback_ip(h) and not compose)
    # All of one address's ports in one call, so the OS cannot hand out one port twice.
    free = {host: iter(free_ports(4 * count, host)) for host, count in local.items()}
    seen: Counter[str] = Counter()
    planned = {}
    for name, host in chosen.items():
        if host in free:
            planned[name] = _free(name, host, free[host])
        else:
            planned[name] = _standard(name, host, PORT_STEP * seen[host], compose)
        seen[host] += 1
    return planned


def _normal(host: str) -> str:
    host = host.lower().rstrip(".")
    return LOCAL if host == "localhost" else host


def _free(name: str, host: str, ports: Iterator[int]) -> NodeAddresses:
    peer, client, admin, metrics = (next(ports) for _ in range(4))
    return NodeAddresses(
        name,
        host,
        peer=joined(host, peer),
        client=joined(host, client),
        admin=joined(host, admin),  # loopback: the plan gives this only loopback hosts
        metrics=joined(host, metrics),
        scrape=joined(host, metrics),
    )


def _standard(name: str, host: str, offset: int, compose: bool) -> NodeAddresses:
    bind = host if _is_ip(host) and not compose else WILDCARD
    listen = None if bind == host else bind
    return NodeAddresses(
        name,
        host,
        peer=joined(host, PEER_PORT + offset),
        client=joined(host, CLIENT_PORT + offset),
        admin=joined(LOCAL, ADMIN_PORT + offset),
        # Loopback unless in a container, whose port compose publishes; prometheus.yml
        # still lists host:port, for when the operator opens it (docs/deploy.md).
        metrics=joined(WILDCARD if compose else LOCAL, METRICS_PORT + offset),
        scrape=joined(host, METRICS_PORT + offset),
        peer_listen=None if listen is None else joined(listen, PEER_PORT + offset),
        client_listen=None if listen is None else joined(listen, CLIENT_PORT + offset),
    )
