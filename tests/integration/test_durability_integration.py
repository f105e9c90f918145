"""An acknowledged transaction survives kill -9 of the node that acknowledged it: under load, nodes
are killed and restarted in turn, each right after acknowledging transactions it could not pass
on yet (a ``delay`` fault holds its gossip back), and every acknowledged transaction must commit
exactly once. Every test stops every process it starts."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import trio
from helpers.cluster import addresses, cli, wait_for_height

from sequencer_net.client import Client
from sequencer_net.cluster.control import Cluster
from sequencer_net.config import load_genesis
from sequencer_net.store.sqlite import SqliteChainStore
from sequencer_net.types import Tx

SEED = 20261202
CYCLES = 4
CHUNK = 5
TICK_S = 0.05


def committed_tx_ids(cluster: Cluster, name: str) -> list[bytes]:
    """Every tx id in the node's chain, in order, repeats included (the node must be stopped)."""
    chain_id = load_genesis(cluster.root / "genesis.toml").genesis.chain_id
    with SqliteChainStore(cluster.root / name / "data" / "chain.sqlite", chain_id) as store:
        return [txid for h in range(1, store.last_height() + 1) for txid in store.get(h).tx_ids]


async def test_every_acknowledged_tx_commits_exactly_once_across_kill_9(
    cluster: Cluster,
) -> None:
    nodes = addresses(cluster)
    rng = random.Random(SEED)
    counter = itertools.count()
    acked: set[bytes] = set()

    def chunk() -> list[bytes]:
        return [Tx("load", "alice", next(counter).to_bytes(8, "big")).encoded for _ in range(CHUNK)]

    async def submit(client: Client) -> None:
        for txid, _error in await client.submit_encoded(chunk()):
            if txid is not None:
                acked.add(txid)

    async def load(address: str) -> None:
        """Submit steadily; a killed node's requests fail (not acknowledged) until it is back."""
        while True:
            try:
                async with await Client.connect(address) as client:
                    while True:
                        await submit(client)
                        await trio.sleep(TICK_S)
            except Exception:  # the node is down or going down: try again shortly
                await trio.sleep(0.2)

    for address in nodes.values():
        await wait_for_height(address, 2)
    async with trio.open_nursery() as nursery:
        for address in nodes.values():
            nursery.start_soon(load, address)
        for _ in range(CYCLES):
            victim = rng.choice(sorted(nodes))
            await cli(cluster, "fault", "set", victim, "delay", "5000")
            async with await Client.connect(nodes[victim]) as client:
                await submit(client)  # acknowledged, held back by the delay: only on its disk
            cluster.kill(victim)
            cluster.restart(victim)
            await wait_for_height(nodes[victim], 1)
            await trio.sleep(rng.uniform(0.5, 2))
        nursery.cancel_scope.cancel()

    async with await Client.connect(nodes["n1"]) as client:
        with trio.move_on_after(60):
            waiting = set(acked)
            while waiting:
                waiting = {
                    t for t in waiting if (await client.tx_status(t))["status"] != "committed"
                }
                await trio.sleep(0.2)
    cluster.down()
    for name in nodes:
        seen = Counter(committed_tx_ids(cluster, name))
        assert [t for t, n in seen.items() if n > 1] == [], f"{name}: a tx committed twice"
    seen = Counter(committed_tx_ids(cluster, "n1"))
    lost = [t.hex()[:16] for t in acked if t not in seen]
    assert lost == [], (
        f"{len(lost)} of {len(acked)} acknowledged txs never committed: {lost[:5]} (SEED {SEED})"
    )
