"""Four real nodes, each listening on a loopback address of its own (127.0.0.2 to 127.0.0.5)
and advertising it in genesis, as nodes on four hosts would, each run from its host's bundle
(`cluster init --hosts`): they find each other at the advertised addresses, commit a client's
transaction, and a killed node catches up after its restart. Nothing leaves this machine:
every address is in 127.0.0.0/8."""

from __future__ import annotations

import errno
import json
import socket
from pathlib import Path

import trio
from helpers.cluster import (
    addresses,
    assert_chains_agree,
    committed_at,
    height_of,
    stop_checked,
    wait_for_height,
)

from sequencer_net.client import Client, parse_address
from sequencer_net.cluster.control import Cluster, NodeCommand, node_command
from sequencer_net.cluster.init import init_cluster
from sequencer_net.config import ClusterSpec
from sequencer_net.consensus.config import Timeouts
from sequencer_net.store.sqlite import SqliteChainStore
from sequencer_net.types import Tx

HOSTS = {f"n{i}": f"127.0.0.{i + 1}" for i in range(1, 5)}
FAST = Timeouts(propose_ms=400, prevote_ms=200, precommit_ms=200)


def refused_on(host: str, port: int) -> bool:
    """True if nothing listens at host:port (the node bound another address only)."""
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((host, port)) == errno.ECONNREFUSED


def bundle_node(root: Path, name: str) -> Path:
    return root / "bundles" / HOSTS[name] / name


def from_bundles(root: Path) -> NodeCommand:
    """Start each node from its bundle's node.toml, as its host would: the cluster tool only
    keeps the pids and node.out."""

    def command(config: Path) -> list[str]:
        return node_command(bundle_node(root, config.parent.name) / "node.toml")

    return command


def bundle_chains(root: Path) -> dict[str, list[bytes]]:
    result = {}
    for name in HOSTS:
        store = SqliteChainStore(bundle_node(root, name) / "data" / "chain.sqlite", "hosts")
        try:
            result[name] = [store.get(h).batch.id for h in range(1, store.last_height() + 1)]
        finally:
            store.close()
    return result


def listening(root: Path, name: str) -> dict[str, str]:
    lines = (bundle_node(root, name) / "data" / "node.log").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["event"] == "node_started"][-1]["listening"]


async def test_nodes_on_their_own_addresses_commit_and_catch_up(tmp_path: Path) -> None:
    root = init_cluster(ClusterSpec("hosts", 4, timeouts=FAST, hosts=HOSTS), tmp_path / "c")
    cluster = Cluster(root, from_bundles(root))
    cluster.up()
    try:
        await _commit_and_catch_up(cluster)
    finally:
        stop_checked(cluster)
    assert all(not any((root / name / "data").iterdir()) for name in HOSTS), "ran from root"


async def _commit_and_catch_up(cluster: Cluster) -> None:
    root = cluster.root
    nodes = addresses(cluster)
    assert {n: parse_address(a)[0] for n, a in nodes.items()} == HOSTS
    await wait_for_height(nodes["n1"], 2)
    for name, host in HOSTS.items():
        started = listening(root, name)
        assert all(address.startswith(f"{host}:") for address in started.values()), started
        client_port = parse_address(nodes[name])[1]
        assert refused_on("127.0.0.1", client_port), f"{name} answers on 127.0.0.1 too"
    with trio.fail_after(30):
        while True:  # every link is up, dialled at the advertised addresses
            async with await Client.connect(nodes["n4"]) as client:
                status = await client.status()
            if sorted(status["links"]) == ["n1", "n2", "n3"]:
                break
            await trio.sleep(0.2)

    async with await Client.connect(nodes["n3"]) as client:
        txid = await client.submit(Tx("rollup", "alice", b"hello from 127.0.0.4"))
    committed = await committed_at(nodes["n2"], [txid])

    cluster.kill("n2")
    before = await height_of(nodes["n1"])
    assert before is not None
    await wait_for_height(nodes["n1"], before + 5)
    assert await height_of(nodes["n2"]) is None
    cluster.restart("n2")
    target = await height_of(nodes["n1"])
    assert target is not None
    await wait_for_height(nodes["n2"], target)
    cluster.down()
    assert_chains_agree(bundle_chains(root), at_least=max(target, committed[txid]))
