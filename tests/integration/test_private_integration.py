"""Private sequencing with real processes: a 4-node cluster dealt a threshold key orders
encrypted transactions sent by `tx send --encrypt` and `Client.submit_encrypted`; every node
stores and includes the ciphertext only, and no file any node wrote holds the plaintext."""

from __future__ import annotations

import json
from collections.abc import Callable

from helpers.cluster import FAST, addresses, cli, committed_at, wait_for_height

from sequencer_net import codec
from sequencer_net.client import Client
from sequencer_net.cluster.control import Cluster
from sequencer_net.config import ClusterSpec
from sequencer_net.threshold import envelope
from sequencer_net.types import Tx


async def test_encrypted_transactions_are_ordered_as_ciphertexts(
    start: Callable[[ClusterSpec], Cluster],
) -> None:
    cluster = start(ClusterSpec("priv", 4, timeouts=FAST, private=True))
    nodes = addresses(cluster)
    await wait_for_height(nodes["n1"], 1)
    sent = json.loads(
        await cli(cluster, "tx", "send", "cli secret 7731", "--encrypt", "--wait", "--json")
    )
    assert sent["status"] == "committed"
    public = cluster.genesis.genesis.private
    assert public is not None
    async with await Client.connect(nodes["n2"]) as client:
        txid = await client.submit_encrypted(
            Tx("rollup-a", "alice", b"lib secret 4410"), public.public_key
        )
    heights = await committed_at(nodes["n3"], [bytes.fromhex(sent["txid"]), txid])

    carried = []
    for height in sorted(set(heights.values())):
        shown = json.loads(
            await cli(cluster, "namespace", "show", "rollup-a", str(height), "--json")
        )
        carried += [codec.decode(bytes.fromhex(t), Tx) for t in shown["txs"]]
    ours = [tx for tx in carried if isinstance(tx, Tx) and tx.id in heights]
    assert len(ours) == 2
    assert all(envelope.is_encrypted(tx.payload) for tx in ours)
    for name in nodes:
        for path in (cluster.root / name).rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert b"cli secret 7731" not in data and b"lib secret 4410" not in data, path
