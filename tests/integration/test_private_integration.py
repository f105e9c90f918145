"""Private sequencing with real processes: a 4-node cluster dealt a threshold key orders
encrypted transactions sent by `tx send --encrypt` and `Client.submit_encrypted`; every node
stores and includes the ciphertext only, and no file any node wrote holds the plaintext."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import trio
from helpers.cluster import FAST, addresses, cli, committed_at, wait_for_height

from sequencer_net import codec
from sequencer_net.cli import main
from sequencer_net.client import Client
from sequencer_net.cluster.control import Cluster
from sequencer_net.cluster.probe import probe
from sequencer_net.config import ClusterSpec
from sequencer_net.faults.spec import parse_fault
from sequencer_net.threshold import envelope
from sequencer_net.types import Tx


async def decrypted(address: str, txids: list[bytes]) -> dict[bytes, bytes | None]:
    """Wait until ``address`` has a verdict for every transaction; plaintext (None: failed)."""
    found: dict[bytes, bytes | None] = {}
    async with await Client.connect(address) as client:
        with trio.fail_after(30):
            for t in txids:
                while (status := await client.tx_status(t)).get("decryption") in (None, "pending"):
                    await trio.sleep(0.05)
                found[t] = status.get("plaintext")
    return found


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
    assert sent["decryption"] == "done" and bytes.fromhex(sent["plaintext"]) == b"cli secret 7731"
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

    # After the commit, every node combines the released shares into the same plaintexts.
    expected = {bytes.fromhex(sent["txid"]): b"cli secret 7731", txid: b"lib secret 4410"}
    for address in nodes.values():
        assert await decrypted(address, list(expected)) == expected
    verdicts = set()
    for name in nodes:
        for height in sorted(set(heights.values())):
            shown = json.loads(
                await cli(cluster, "batch", "show", str(height), "--node", name, "--json")
            )
            verdicts.add((height, json.dumps(shown["decrypted"])))
    assert len(verdicts) == len(set(heights.values()))  # one verdict list per height
    out = await cli(cluster, "tx", "status", sent["txid"], "--node", "n4")
    assert "decrypted: 'cli secret 7731'" in out
    for name in nodes:
        for path in (cluster.root / name).rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert b"cli secret 7731" not in data and b"lib secret 4410" not in data, path


async def test_a_crashed_validator_does_not_stop_decryption_and_catches_up_after(
    start: Callable[[ClusterSpec], Cluster],
) -> None:
    cluster = start(ClusterSpec("priv-crash", 4, timeouts=FAST, private=True))
    nodes = addresses(cluster)
    await wait_for_height(nodes["n1"], 1)
    cluster.kill("n4")  # its 6 of the 24 shares are gone; the other 18 are above 13
    public = cluster.genesis.genesis.private
    assert public is not None
    txs = [Tx("rollup-a", f"user{i}", f"order {i}".encode()) for i in range(5)]
    async with await Client.connect(nodes["n1"]) as client:
        ids = [await client.submit_encrypted(tx, public.public_key) for tx in txs]
    await committed_at(nodes["n2"], ids)
    expected = {t: tx.payload for t, tx in zip(ids, txs, strict=True)}
    for name in ("n1", "n2", "n3"):
        assert await decrypted(nodes[name], ids) == expected
    # Back up, n4 catches up, re-opens the recent heights and asks its peers for the shares.
    cluster.restart("n4")
    await wait_for_height(nodes["n4"], max((await committed_at(nodes["n1"], ids)).values()))
    await committed_at(nodes["n4"], ids)
    assert await decrypted(nodes["n4"], ids) == expected


async def test_a_leaking_validator_is_caught_and_slashed_on_every_honest_node(
    start: Callable[[ClusterSpec], Cluster], capsys: pytest.CaptureFixture[str]
) -> None:
    """n2 runs `leak-shares`: it releases its shares of its own chunks' ciphertexts as it
    streams them. Every honest node holds the chunk, proves the leak, and the evidence
    commits: n2 is slashed and jailed everywhere, and each evidence log verifies offline."""
    leak = (parse_fault("leak-shares"),)
    cluster = start(ClusterSpec("priv-leak", 4, timeouts=FAST, private=True, faults={"n2": leak}))
    nodes = addresses(cluster)
    await wait_for_height(nodes["n1"], 1)
    public = cluster.genesis.genesis.private
    assert public is not None
    async with await Client.connect(nodes["n2"]) as client:
        txid = await client.submit_encrypted(
            Tx("rollup-a", "alice", b"leaked order"), public.public_key
        )
    honest = ("n1", "n3", "n4")
    with trio.fail_after(60):
        while True:
            logs = {n: cluster.root / n / "data" / "evidence.jsonl" for n in honest}
            if all(p.exists() and p.read_text().strip() for p in logs.values()):
                break
            await trio.sleep(0.2)
    records = [json.loads(p.read_text().splitlines()[0]) for p in logs.values()]
    assert {r["kind"] for r in records} == {"early_release"}
    assert {r["offender"]["name"] for r in records} == {"n2"}
    assert records[0]["messages"][0]["tx_id"] == txid.hex()
    assert len({p.read_bytes() for p in logs.values()}) == 1  # identical on every node
    genesis = cluster.root / "genesis.toml"
    for path in logs.values():
        assert main(["evidence", "verify", str(path), "--genesis", str(genesis)]) == 0
        assert "1 verified, 0 failed" in capsys.readouterr().out
    for name in honest:
        status = await probe(nodes[name], timeout=5)
        assert status is not None
        [n2] = [v for v in status["validators"] if v["name"] == "n2"]
        assert n2["jailed"] and n2["power"] == 9, (name, n2)
    # The leaked transaction still commits and decrypts like any other.
    await committed_at(nodes["n1"], [txid])
    assert await decrypted(nodes["n1"], [txid]) == {txid: b"leaked order"}
