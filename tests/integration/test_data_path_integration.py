"""The data path with real processes: a node cut off from a chunk's author never receives the
chunk, votes on its certificate alone, and fetches it from a signer to commit it; every node
then holds the same transactions at every height."""

from __future__ import annotations

import os
from collections.abc import Callable

import trio
from helpers.cluster import FAST, addresses, cli, committed_at, wait_for_height

from sequencer_net.client import Client
from sequencer_net.cluster.control import Cluster
from sequencer_net.config import ClusterSpec
from sequencer_net.types import Tx

TXS = 40


async def other_routes(address: str) -> int:
    """Chunks a node got other than from their author: fetched, or in heights it synced."""
    async with await Client.connect(address) as client:
        status = await client.status()
    return int(status["chunks_fetched"]) + int(status["heights_synced"])


async def batch_txs(address: str, height: int) -> list[bytes]:
    async with await Client.connect(address) as client:
        return (await client.call("batch", height=height, with_txs=True))["txs"]


async def test_a_node_lacking_a_committed_chunk_fetches_it_and_matches_the_others(
    start: Callable[[ClusterSpec], Cluster],
) -> None:
    cluster = start(ClusterSpec("fetch", 4, timeouts=FAST))
    nodes = addresses(cluster)
    await wait_for_height(nodes["n4"], 2)
    # n1 and n4 cannot talk; n2 and n3 still reach both, so the chain goes on and n4 learns
    # of n1's chunks only from the certificates in the batches it votes on.
    await cli(cluster, "cluster", "partition", "n1|n4")
    before = await other_routes(nodes["n4"])
    watcher = await Client.connect(nodes["n2"])
    events = await watcher.subscribe_commits(tx_ids=True)
    txs = [Tx("rollup", "alice", os.urandom(8) + i.to_bytes(4, "big")) for i in range(TXS)]
    async with await Client.connect(nodes["n1"]) as client:
        answers = await client.submit_many(txs)
    txids = [a.txid for a in answers]
    assert all(txid is not None for txid in txids), answers
    on_n4 = await committed_at(nodes["n4"], txids)  # type: ignore[arg-type]
    on_n1 = await committed_at(nodes["n1"], txids)  # type: ignore[arg-type]
    assert on_n4 == on_n1
    # From a signer (n2, n3) by fetch, or inside whole batches by catch-up when n4 fell a
    # height behind while its fetch was in flight; never from n1.
    assert await other_routes(nodes["n4"]) > before
    for height in sorted(set(on_n4.values())):
        assert await batch_txs(nodes["n4"], height) == await batch_txs(nodes["n1"], height)
    # The commit stream asked for ids lists each batch's, in the committed order.
    streamed: dict[int, list[bytes]] = {}
    with trio.fail_after(60):  # a hang guard: the heights above are committed already
        async with watcher:
            while max(on_n4.values()) not in streamed:
                event = await anext(events)
                streamed[event["height"]] = list(event["tx_ids"])
    async with await Client.connect(nodes["n2"]) as client:
        for height, ids in streamed.items():
            assert ids == list((await client.batch(height))["tx_ids"])
    assert set(txids) <= {txid for ids in streamed.values() for txid in ids}
    await cli(cluster, "cluster", "heal")
