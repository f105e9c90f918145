"""Prometheus metrics of real node processes on 127.0.0.1, scraped over HTTP and read with
prometheus_client's parser: every series is there from the start, heights and committed
transactions move with commits, peers drop when a node is killed, and an equivocation shows
as byzantine power and exactly one slash."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable

import trio
from helpers.cluster import FAST, addresses, cli, events, wait_for_height
from helpers.metrics import NIL_REASONS, SERIES, STEPS, P, Scrape, metrics_address, scrape
from helpers.paths import CONFIGS

from sequencer_net.client import Client
from sequencer_net.cluster.control import Cluster
from sequencer_net.config import ClusterSpec, load_cluster_spec
from sequencer_net.types import Tx

Start = Callable[[ClusterSpec], Cluster]
NODES = ("n1", "n2", "n3", "n4")
TXS = 20


async def scrape_until(
    address: str, condition: Callable[[Scrape], bool], what: str, timeout: float = 60
) -> Scrape:
    """Scrape until ``condition`` holds (a busy machine decides how long it takes)."""
    found = None
    with trio.move_on_after(timeout):
        while True:
            found = await scrape(address)
            if condition(found):
                return found
            await trio.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what}; last scrape: {found}")


async def answering(cluster: Cluster) -> None:
    """Until every node answers status (its listeners, the metrics one among them, are up)."""
    for address in addresses(cluster).values():
        await wait_for_height(address, 0)


async def submit_and_wait(address: str, count: int) -> None:
    async with await Client.connect(address) as client:
        txids = [await client.submit(Tx("rollup", "alice", os.urandom(16))) for _ in range(count)]
        with trio.fail_after(60):
            for txid in txids:
                while (await client.tx_status(txid))["status"] != "committed":
                    await trio.sleep(0.05)


async def test_every_series_exists_at_start_and_moves_with_commits_and_a_kill(
    start: Start,
) -> None:
    cluster = start(ClusterSpec("metrics", 4, timeouts=FAST))
    await answering(cluster)
    n1 = metrics_address(cluster.root, "n1")
    first = await scrape(n1)
    assert set(SERIES) <= first.names, set(SERIES) - first.names
    chain = {"chain_id": "metrics"}
    for name in SERIES:
        assert first.labels(name, "chain_id") == {"metrics"}, name
    # Labelled series exist for every label value before anything happened to them.
    assert first.labels(f"{P}consensus_nil_prevotes_total", "reason") == NIL_REASONS
    assert first.labels(f"{P}consensus_step_duration_seconds_count", "step") == STEPS
    for name in ("consensus_validator_power", "reputation_proposer_skipped"):
        assert first.labels(f"{P}{name}", "validator") == set(NODES)
    assert first.labels(f"{P}censorship_proposer_failed_rounds_total", "proposer") == set(NODES)
    for zero in ("consensus_slashes_total", "consensus_byzantine_validators_power"):
        assert first.value(f"{P}{zero}", **chain) == 0
    assert first.value(f"{P}consensus_validators", **chain) == 4
    assert first.value(f"{P}consensus_validators_power", **chain) == 40

    await submit_and_wait(addresses(cluster)["n1"], TXS)
    after = await scrape(n1)
    assert after.value(f"{P}consensus_height", **chain) > first.value(
        f"{P}consensus_height", **chain
    )
    assert after.value(f"{P}consensus_committed_txs_total", **chain) >= TXS
    assert after.value(f"{P}consensus_batch_size_txs_sum", **chain) >= TXS
    # Delays are sampled once per committed chunk (its transactions share it).
    assert after.value(f"{P}censorship_inclusion_delay_seconds_count", **chain) >= 1
    heights = after.value(f"{P}consensus_height", **chain)
    assert after.value(f"{P}consensus_batch_size_txs_count", **chain) == heights

    await scrape_until(n1, lambda s: s.value(f"{P}p2p_peers", **chain) == 3, "n1 links to all")
    cluster.kill("n4")
    await scrape_until(
        n1,
        lambda s: (
            s.value(f"{P}p2p_peers", **chain) == 2 and s.value(f"{P}p2p_peers_heard", **chain) == 2
        ),
        "n1's peers drop to 2 after n4 is killed",
    )
    gone = await scrape_until(
        n1,
        lambda s: s.value(f"{P}consensus_missing_validators", **chain) == 1,
        "n4 counted missing",
    )
    assert gone.value(f"{P}consensus_missing_validators_power", **chain) == 10
    await wait_for_height(addresses(cluster)["n1"], int(heights) + 5)  # three still commit
    # At the default level the log holds no per-height lines, and says where the node listens.
    assert events(cluster, "n1", "committed") == []
    [started] = events(cluster, "n1", "node_started")
    assert started["listening"]["metrics"] == n1
    # It comes before anything its peer links log, so a log reader sees where a run begins.
    first_line = (cluster.root / "n1" / "data" / "node.log").read_text().splitlines()[0]
    assert json.loads(first_line)["event"] == "node_started"


async def test_an_equivocation_shows_as_byzantine_power_and_one_slash(start: Start) -> None:
    """configs/byzantine-4.toml with n1's equivocation switched on only after a first scrape,
    so the scrape before it is known to show none."""
    spec = dataclasses.replace(load_cluster_spec(CONFIGS / "byzantine-4.toml"), faults={})
    cluster = start(dataclasses.replace(spec, name="byzantine-metrics"))
    await answering(cluster)
    chain = {"chain_id": spec.chain_id}
    n2 = metrics_address(cluster.root, "n2")
    before = await scrape(n2)
    for zero in (
        "consensus_byzantine_validators",
        "consensus_byzantine_validators_power",
        "consensus_slashes_total",
        "consensus_evidence_committed_total",
    ):
        assert before.value(f"{P}{zero}", **chain) == 0, zero
    await cli(cluster, "fault", "set", "n1", "equivocate")

    def slashed(s: Scrape) -> bool:
        return s.value(f"{P}consensus_slashes_total", **chain) >= 1

    after = await scrape_until(n2, slashed, "n2 applies a slash")
    assert after.value(f"{P}consensus_byzantine_validators", **chain) == 1
    assert after.value(f"{P}consensus_byzantine_validators_power", **chain) == 10
    assert after.value(f"{P}consensus_evidence_committed_total", **chain) >= 1
    assert after.value(f"{P}consensus_validator_power", validator="n1", **chain) == 9
    assert after.value(f"{P}consensus_validator_jailed", validator="n1", **chain) == 1
    assert after.value(f"{P}consensus_validators", **chain) == 3
    # n1 is jailed after its first slash: however long it goes on, nothing is slashed twice.
    height = after.value(f"{P}consensus_height", **chain)
    await wait_for_height(addresses(cluster)["n2"], int(height) + 10)
    later = await scrape(n2)
    assert later.value(f"{P}consensus_slashes_total", **chain) == 1
    assert later.value(f"{P}consensus_byzantine_validators_power", **chain) == 10
