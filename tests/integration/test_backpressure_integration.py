"""Backpressure on a real cluster: a node whose mempool is full answers "busy" (retry later),
and every transaction it acknowledged commits exactly once, with the retries."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from helpers.cluster import addresses, wait_for_height

from sequencer_net.api_protocol import BUSY
from sequencer_net.client import Client
from sequencer_net.cluster.control import Cluster
from sequencer_net.config import ClusterSpec, NodeParams, load_genesis
from sequencer_net.load import LoadPlan, run_plan
from sequencer_net.store.sqlite import SqliteChainStore
from sequencer_net.types import Tx, tx_id

TINY_MEMPOOL = 20


def committed_ids(cluster: Cluster, name: str) -> Counter[bytes]:
    """How often each transaction id appears in ``name``'s chain (the node must be stopped)."""
    genesis = load_genesis(cluster.root / "genesis.toml").genesis
    store = SqliteChainStore(cluster.root / name / "data" / "chain.sqlite", genesis.chain_id)
    try:
        found: Counter[bytes] = Counter()
        for height in range(1, store.last_height() + 1):
            entry = store.get(height)
            assert entry is not None
            found.update(tx_id(tx) for tx in entry.txs)
        return found
    finally:
        store.close()


async def test_a_flooded_node_answers_busy_and_every_ack_commits_once(
    start: Callable[[ClusterSpec], Cluster],
) -> None:
    params = NodeParams(mempool_max_txs=TINY_MEMPOOL)
    cluster = start(ClusterSpec(name="busy", nodes=4, params=params))
    nodes = addresses(cluster)
    await wait_for_height(nodes["n1"], 1)

    # One request of ten times the mempool: the node takes what fits and says busy for the rest.
    flood = [Tx("busy", "flood", i.to_bytes(4, "big")) for i in range(10 * TINY_MEMPOOL)]
    async with await Client.connect(nodes["n1"]) as client:
        results = await client.submit_many(flood)
    taken = [r.txid for r in results if r.txid is not None]
    assert 0 < len(taken) <= TINY_MEMPOOL
    assert all(r.busy and r.error == BUSY for r in results if r.txid is None)
    assert sum(r.busy for r in results) >= 9 * TINY_MEMPOOL

    # The load generator floods the same node, retrying busy answers until they are taken.
    plan = LoadPlan((nodes["n1"],), rate=400, duration_s=1, size=100, drain_s=60)
    report = await run_plan(plan)
    assert report.busy > 0, report
    assert report.refused == 0 and report.gave_up == 0, report
    assert report.acked == report.submitted == report.committed > 0, report
    assert report.uncommitted == 0, report

    cluster.down()
    found = committed_ids(cluster, "n1")
    assert all(count == 1 for count in found.values()), "a transaction committed twice"
    assert all(txid in found for txid in taken)
    assert sum(found.values()) == len(taken) + report.acked
