"""Shared sequencing with real processes: a 4-node cluster whose genesis registers two
namespaces commits transactions of both; `namespace show --proof` writes a proof that
`namespace verify` accepts with the genesis file alone, and refuses once tampered with; a
transaction for an unregistered namespace, or over its namespace's size, is refused."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import trio
from helpers.cluster import FAST, addresses, cli, committed_at, wait_for_height

from sequencer_net.client import Client
from sequencer_net.cluster.control import Cluster
from sequencer_net.config import ClusterSpec
from sequencer_net.namespaces import Namespace
from sequencer_net.types import Tx

REGISTRY = (
    Namespace("rollup-a", 1, 0.5, 4096),
    Namespace("rollup-b", 2, 0.25, 200),
)


async def run(*argv: str | Path) -> tuple[int, str, str]:
    done = await trio.run_process(
        [sys.executable, "-m", "sequencer_net", *map(str, argv)],
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    return done.returncode, done.stdout.decode(), done.stderr.decode()


async def test_namespaced_transactions_commit_with_proofs_that_verify_offline(
    start: Callable[[ClusterSpec], Cluster], tmp_path: Path
) -> None:
    cluster = start(ClusterSpec("shared", 4, timeouts=FAST, namespaces=REGISTRY))
    nodes = addresses(cluster)
    genesis = cluster.root / "genesis.toml"
    await wait_for_height(nodes["n1"], 2)
    a = [Tx("rollup-a", "alice", os.urandom(8)) for _ in range(6)]
    b = [Tx("rollup-b", "bob", os.urandom(8)) for _ in range(4)]
    async with await Client.connect(nodes["n1"]) as client:
        answers = await client.submit_many([*a, *b])
        refused = await client.submit_many(
            [Tx("rollup-z", "eve", b"x"), Tx("rollup-b", "eve", b"y" * 300)]
        )
    assert all(r.txid is not None for r in answers), answers
    assert refused[0].txid is None and "unknown namespace 'rollup-z'" in str(refused[0].error)
    assert refused[1].txid is None and "max_tx_bytes 200" in str(refused[1].error)
    heights = await committed_at(nodes["n2"], [tx.id for tx in [*a, *b]])

    # Every height that holds rollup-a's transactions proves exactly those, in order.
    proven: list[bytes] = []
    for height in sorted({heights[tx.id] for tx in a}):
        proof = tmp_path / f"a-{height}.json"
        out = await cli(
            cluster, "namespace", "show", "rollup-a", str(height), "--proof", str(proof), "--json"
        )
        shown = json.loads(out)
        assert shown["verified"] and shown["present"]
        code, out, err = await run("namespace", "verify", proof, "--genesis", genesis, "--json")
        assert code == 0, err
        verified = json.loads(out)
        assert verified["tx_ids"] == shown["tx_ids"]
        proven += [bytes.fromhex(t) for t in verified["tx_ids"]]
    assert sorted(proven) == sorted(tx.id for tx in a)

    # The human view of the same: the transactions, each with its id, sender and payload.
    height = heights[a[0].id]
    out = await cli(cluster, "namespace", "show", "rollup-a", str(height))
    assert "proof verified" in out and a[0].id.hex()[:16] in out and "alice" in out

    # rollup-b's proof at a height of rollup-a's alone is one of absence; verify says so.
    only_a = sorted({heights[tx.id] for tx in a} - {heights[tx.id] for tx in b})
    for height in only_a[:1]:
        out = await cli(cluster, "namespace", "show", "rollup-b", str(height), "--json")
        assert json.loads(out)["present"] is False

    # Tampering: another transaction in place of one, or a byte of the header, fails (exit 1).
    first = tmp_path / f"a-{heights[a[0].id]}.json"
    document = json.loads(first.read_text())
    for flip_at in (len(document["proof"]) // 2, len(document["proof"]) - 2):
        hexed = document["proof"]
        digit = "0" if hexed[flip_at] != "0" else "1"
        bad = dict(document, proof=hexed[:flip_at] + digit + hexed[flip_at + 1 :])
        tampered = tmp_path / "tampered.json"
        tampered.write_text(json.dumps(bad))
        code, _, err = await run("namespace", "verify", tampered, "--genesis", genesis)
        assert code == 1, (flip_at, err)
        assert "Traceback" not in err
    code, _, err = await run("namespace", "verify", tmp_path / "missing.json", "--genesis", genesis)
    assert code == 2 and "Traceback" not in err

    # An unregistered namespace is refused by `tx send` and by the proof request alike.
    code, _, err = await run("tx", "send", "hi", "--namespace", "rollup-z", "--dir", cluster.root)
    assert code == 1 and "unknown namespace 'rollup-z'" in err, err
    code, _, err = await run("namespace", "show", "rollup-z", "1", "--dir", cluster.root)
    assert code == 1 and "unknown namespace" in err, err

    # follow streams the next heights' proofs, each verified.
    code, out, err = await run(
        "namespace", "follow", "rollup-a", "--from", "1", "--heights", "3", "--json",
        "--dir", cluster.root,
    )  # fmt: skip
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["height"] for r in records] == [1, 2, 3] and all(r["verified"] for r in records)
    code, out, err = await run(
        "namespace", "follow", "rollup-b", "--from", str(heights[b[0].id]), "--heights", "1",
        "--dir", cluster.root,
    )  # fmt: skip
    assert code == 0 and "proof verified" in out and b[0].id.hex()[:16] in out, err

    # An atomic bundle across both namespaces commits at one height, contiguous, in order.
    bundle = tmp_path / "bundle.json"
    items = [
        {"namespace": "rollup-b", "payload": "leg 1"},
        {"namespace": "rollup-a", "payload_hex": os.urandom(8).hex()},
        {"namespace": "rollup-b", "payload": "leg 3", "sender": "carol"},
    ]
    bundle.write_text(json.dumps(items))
    out = await cli(
        cluster, "tx", "send", "--bundle", str(bundle), "--node", "n3", "--wait", "--json"
    )
    sent = json.loads(out)["txs"]
    places = [(t["status"], t["height"], t["position"]) for t in sent]
    first = places[0]
    assert places == [("committed", first[1], first[2] + i) for i in range(3)], places
    # Refused whole, with the reason: an unregistered namespace (exit 1), a bad file (exit 2).
    bundle.write_text(json.dumps([items[0], {"namespace": "rollup-z", "payload": "x"}]))
    code, _, err = await run("tx", "send", "--bundle", bundle, "--dir", cluster.root)
    assert code == 1 and "transaction 1 of the bundle: unknown namespace" in err, err
    bundle.write_text('[{"namespace": "rollup-a"}]')
    code, _, err = await run("tx", "send", "--bundle", bundle, "--dir", cluster.root)
    assert code == 2 and "give payload (text) or payload_hex" in err and "Traceback" not in err

    # Fair shares: each node reports per-namespace inclusion figures.
    status = json.loads(await cli(cluster, "status", "--json", "--node", "n2"))["n2"]
    figures = status["censorship"]["namespaces"]
    assert set(figures) == {"rollup-a", "rollup-b"}
    assert (
        figures["rollup-a"]["included"] >= len(a) and figures["rollup-a"]["ms"]["p50"] is not None
    )
