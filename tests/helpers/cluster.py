"""Helpers for tests that drive real node processes on 127.0.0.1: addresses, bounded waits on
heights, reading stores and logs after the nodes stop, and the `sequencer-net` command."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import trio

from sequencer_net.client import Client
from sequencer_net.cluster.control import Cluster
from sequencer_net.cluster.init import init_cluster
from sequencer_net.cluster.probe import probe
from sequencer_net.config import ClusterSpec, load_genesis
from sequencer_net.consensus.config import Timeouts
from sequencer_net.store.sqlite import SqliteChainStore

# Short consensus timeouts, so fault and recovery runs finish quickly.
FAST = Timeouts(
    propose_ms=300,
    propose_delta_ms=100,
    prevote_ms=200,
    prevote_delta_ms=100,
    precommit_ms=200,
    precommit_delta_ms=100,
)


def stop_checked(cluster: Cluster) -> None:
    """Stop every node, paused ones included, and fail if one is still running."""
    cluster.down(timeout=5)
    leftover = [p.name for p in cluster.processes() if p.state.value in ("alive", "paused")]
    assert not leftover, f"processes left running: {leftover}"


@contextmanager
def running(spec: ClusterSpec, root: Path) -> Iterator[Cluster]:
    """A fresh cluster from ``spec`` in ``root``, up for the block and stopped (checked) at
    its end, also when the block fails; for clusters shared wider than one test."""
    cluster = Cluster(init_cluster(spec, root))
    cluster.up()
    try:
        yield cluster
    finally:
        stop_checked(cluster)


def addresses(cluster: Cluster) -> dict[str, str]:
    return {
        name: a.client for name, a in load_genesis(cluster.root / "genesis.toml").addresses.items()
    }


async def height_of(address: str) -> int | None:
    status = await probe(address, timeout=2)
    return None if status is None else status["height"]


async def wait_for_height(address: str, height: int, timeout: float = 30) -> int:
    with trio.fail_after(timeout):
        while True:
            current = await height_of(address)
            if current is not None and current >= height:
                return current
            await trio.sleep(0.1)


def chains(cluster: Cluster) -> dict[str, list[bytes]]:
    """Every node's committed batch ids, read from its store (nodes must be stopped)."""
    genesis = load_genesis(cluster.root / "genesis.toml").genesis
    result = {}
    for name in addresses(cluster):
        store = SqliteChainStore(cluster.root / name / "data" / "chain.sqlite", genesis.chain_id)
        try:
            result[name] = [store.get(h).batch.id for h in range(1, store.last_height() + 1)]
        finally:
            store.close()
    return result


def assert_failed_rounds_agree(cluster: Cluster) -> None:
    """Leader reputation reads failed rounds, so every node must hold the same record of
    them up to the height all have reached (nodes must be stopped)."""
    genesis = load_genesis(cluster.root / "genesis.toml").genesis
    records, heights = {}, {}
    for name in addresses(cluster):
        store = SqliteChainStore(cluster.root / name / "data" / "chain.sqlite", genesis.chain_id)
        try:
            heights[name] = store.last_height()
            records[name] = store.proposer_failures(1)
        finally:
            store.close()
    common = min(heights.values())
    seen = {name: [f for f in r if f[0] < common] for name, r in records.items()}
    assert len({tuple(r) for r in seen.values()}) == 1, seen


def assert_chains_agree(found: dict[str, list[bytes]], at_least: int) -> None:
    shortest = min(len(c) for c in found.values())
    assert shortest >= at_least, {n: len(c) for n, c in found.items()}
    reference = next(iter(found.values()))
    for name, chain in found.items():
        common = min(len(chain), len(reference))
        assert chain[:common] == reference[:common], f"{name} diverges"


def evidence_logged(cluster: Cluster) -> list[dict]:
    found = []
    for name in addresses(cluster):
        log = cluster.root / name / "data" / "node.log"
        for line in log.read_text().splitlines():
            record = json.loads(line)
            if record["event"] == "evidence_found":
                found.append(record)
    return found


async def cli(cluster: Cluster, *argv: str) -> str:
    """Run `sequencer-net ARGV --dir DIR` in a child process; returns its stdout."""
    done = await trio.run_process(
        [sys.executable, "-m", "sequencer_net", *argv, "--dir", str(cluster.root)],
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def events(cluster: Cluster, name: str, event: str) -> list[dict]:
    lines = (cluster.root / name / "data" / "node.log").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["event"] == event]


async def committed_at(address: str, txids: list[bytes]) -> dict[bytes, int]:
    """Wait until every transaction is committed at ``address``; the height of each."""
    found: dict[bytes, int] = {}
    async with await Client.connect(address) as client:
        with trio.fail_after(60):
            for txid in txids:
                while (status := await client.tx_status(txid))["status"] != "committed":
                    await trio.sleep(0.05)
                found[txid] = status["height"]
    return found
