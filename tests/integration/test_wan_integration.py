"""A 4-node cluster of real processes over a small emulated WAN (two regions, 20-50 ms one
way between them) commits, agrees, and takes client transactions to a commit; each node logs
the region node.toml gave it."""

from __future__ import annotations

from collections.abc import Callable

from helpers.cluster import (
    addresses,
    assert_chains_agree,
    chains,
    committed_at,
    events,
    wait_for_height,
)

from sequencer_net.client import Client
from sequencer_net.cluster.control import Cluster
from sequencer_net.config import ClusterSpec
from sequencer_net.config.network import NetworkSpec
from sequencer_net.latency import LinkLatency
from sequencer_net.types import Tx

SMALL_WAN = NetworkSpec(
    seed=9,
    regions={"n1": "east", "n2": "east", "n3": "west", "n4": "west"},
    latency={
        ("east", "west"): LinkLatency(20, 30),  # 20-50 ms one way across
        ("east", "east"): LinkLatency(5, 5),
        ("west", "west"): LinkLatency(5, 5),
    },
)


async def test_a_four_node_cluster_over_an_emulated_wan_commits(
    start: Callable[[ClusterSpec], Cluster],
) -> None:
    cluster = start(ClusterSpec("wan4", 4, network=SMALL_WAN))
    client = addresses(cluster)
    for name in client:
        await wait_for_height(client[name], 5, timeout=60)
    async with await Client.connect(client["n3"]) as c:
        results = await c.submit_many(
            [Tx("rollup-a", "alice", b"across %d" % i) for i in range(20)]
        )
    txids = [r.txid for r in results]
    assert all(txids), results
    heights = await committed_at(client["n1"], txids)
    assert len(heights) == 20
    cluster.down(timeout=5)
    assert_chains_agree(chains(cluster), at_least=5)
    regions = {name: events(cluster, name, "node_started")[-1].get("region") for name in client}
    assert regions == {"n1": "east", "n2": "east", "n3": "west", "n4": "west"}
