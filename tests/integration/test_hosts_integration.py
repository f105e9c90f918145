"""Four real nodes, each listening on a loopback address of its own (127.0.0.2 to 127.0.0.5)
and advertising it in genesis, as nodes on four hosts would: they find each other at the
advertised addresses, commit a client's transaction, and a killed node catches up after its
restart. Nothing leaves this machine: every address is in 127.0.0.0/8."""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable

import trio
from helpers.cluster import (
    addresses,
    assert_chains_agree,
    chains,
    committed_at,
    events,
    height_of,
    wait_for_height,
)

from sequencer_net.client import Client, parse_address
from sequencer_net.cluster.control import Cluster
from sequencer_net.config import ClusterSpec, load_node_config
from sequencer_net.consensus.config import Timeouts
from sequencer_net.types import Tx

HOSTS = {f"n{i}": f"127.0.0.{i + 1}" for i in range(1, 5)}
FAST = Timeouts(propose_ms=400, prevote_ms=200, precommit_ms=200)


def refused_on(host: str, port: int) -> bool:
    """True if nothing listens at host:port (the node bound another address only)."""
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((host, port)) == errno.ECONNREFUSED


async def test_nodes_on_their_own_addresses_commit_and_catch_up(
    start: Callable[[ClusterSpec], Cluster],
) -> None:
    cluster = start(ClusterSpec("hosts", 4, timeouts=FAST, hosts=HOSTS))
    nodes = addresses(cluster)
    assert {n: parse_address(a)[0] for n, a in nodes.items()} == HOSTS
    await wait_for_height(nodes["n1"], 2)
    for name, host in HOSTS.items():
        started = events(cluster, name, "node_started")[-1]["listening"]
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
    config = load_node_config(cluster.root / "n2" / "node.toml")
    assert config.peer_bind.host == "127.0.0.3"
    cluster.down()
    assert_chains_agree(chains(cluster), at_least=max(target, committed[txid]))
