"""Censorship resistance with real processes: a censoring proposer cannot hold a target's
transactions past the inclusion deadline while forced inclusion is on, nobody prevotes nil for
inclusion while it is off, and a fault-free cluster under load never prevotes nil for it."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace

import trio

from sequencer_net.client import Client
from sequencer_net.cluster.control import Cluster
from sequencer_net.cluster.probe import probe
from sequencer_net.config import ClusterSpec, load_genesis
from sequencer_net.faults.spec import parse_fault
from sequencer_net.genesis import ChainParams
from sequencer_net.load import run_load
from sequencer_net.types import Tx

TARGET_TXS = 30


Start = Callable[[ClusterSpec], Cluster]


@dataclass(frozen=True)
class Inclusion:
    held_by_all_at: int  # a height by which every honest node held the tx (an upper bound)
    committed_at: int


def censor_spec(
    name: str, stakes: tuple[int, ...], chain: ChainParams, censor: bool
) -> ClusterSpec:
    """``stakes`` validators; with ``censor``, n1 omits sender alice's transactions."""
    faults = {"n1": (parse_fault("censor sender=alice"),)} if censor else {}
    return ClusterSpec(name, len(stakes), stakes, chain=chain, faults=faults)


def client_addresses(cluster: Cluster) -> dict[str, str]:
    genesis = load_genesis(cluster.root / "genesis.toml")
    return {name: a.client for name, a in genesis.addresses.items()}


async def wait_committing(addresses: dict[str, str], height: int = 3) -> None:
    with trio.fail_after(30):
        for address in addresses.values():
            while (status := await probe(address, timeout=1)) is None or status["height"] < height:
                await trio.sleep(0.1)


async def held_by_all_at(clients: list[Client], txid: bytes) -> int:
    """A height by which every honest node held ``txid``: each node's height read after it
    first answers that it holds the tx. Forced inclusion bounds the delay from there; before
    it, gossip decides how many heights pass, and on a busy machine that is timing."""
    heights = []
    with trio.fail_after(30):
        for client in clients:
            while (await client.tx_status(txid))["status"] == "unknown":
                await trio.sleep(0.01)
            heights.append((await client.status())["height"])
    return max(heights)


async def submit_target_txs(honest: list[str]) -> list[Inclusion]:
    """Alice's transactions, round robin over honest nodes, then when each committed."""
    submitted: list[tuple[bytes, int]] = []
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(await Client.connect(a)) for a in honest]
        for i in range(TARGET_TXS):
            payload = os.urandom(4) + i.to_bytes(4, "big")  # fresh in every round
            txid = await clients[i % len(clients)].submit(Tx("rollup", "alice", payload))
            submitted.append((txid, await held_by_all_at(clients, txid)))
        found = []
        for txid, height in submitted:
            with trio.fail_after(30):
                while (status := await clients[0].tx_status(txid))["status"] != "committed":
                    await trio.sleep(0.05)
            found.append(Inclusion(height, status["height"]))
    return found


async def proposers(address: str, low: int, high: int) -> dict[int, str]:
    async with await Client.connect(address) as client:
        return {h: (await client.batch(h))["proposer"] for h in range(low, high + 1)}


async def censored_cluster(
    start: Start, name: str, stakes: tuple[int, ...], chain: ChainParams
) -> list[str]:
    """A committing cluster whose n1 censors alice; the honest nodes' client addresses."""
    cluster = start(censor_spec(name, stakes, chain, censor=True))
    addresses = client_addresses(cluster)
    await wait_committing(addresses)
    return [a for name, a in addresses.items() if name != "n1"]


async def alice_round(honest: list[str]) -> tuple[list[Inclusion], dict[int, str], list[dict]]:
    """Alice's transactions through the honest nodes, who built the batches that carried
    them, and every honest node's censorship view afterwards."""
    found = await submit_target_txs(honest)
    low = min(i.committed_at for i in found)
    high = max(i.committed_at for i in found)
    by_height = await proposers(honest[0], low, high)
    assert all(by_height[i.committed_at] != "n1" for i in found), "the censor included alice"
    views = []
    for address in honest:
        status = await probe(address, timeout=2)
        assert status is not None
        views.append(status["censorship"])
    return found, by_height, views


async def censored_run(
    start: Start, name: str, stakes: tuple[int, ...], chain: ChainParams
) -> tuple[list[Inclusion], dict[int, str], list[dict]]:
    return await alice_round(await censored_cluster(start, name, stakes, chain))


async def test_one_censor_of_four_cannot_delay_past_the_deadline_with_forced_inclusion(
    start: Start,
) -> None:
    chain = ChainParams(inclusion_deadline=1, inclusion_grace_ms=20)  # as configs/censor-4.toml
    found, _, _ = await censored_run(start, "censor-on", (10,) * 4, chain)
    # Once every honest node holds a transaction at height h, it commits within the deadline
    # plus one proposal built before it arrived and the two rounds forced inclusion may fail.
    # Whether n1's turn comes while one is overdue is timing (an honest proposer usually takes
    # it first), so which node, if any, refused n1's batch is not asserted here; the replica's
    # unit tests pin that rule, and scripts/censor_demo.py shows it at work.
    assert max(i.committed_at - i.held_by_all_at for i in found) <= 1 + chain.inclusion_deadline + 2

    # Without the rule no honest node ever prevotes nil for inclusion.
    off = replace(chain, forced_inclusion=False)
    found, _, views = await censored_run(start, "censor-off", (10,) * 4, off)
    assert all(v["inclusion_nil_prevotes"] == 0 for v in views), views


async def test_censoring_stake_just_under_a_third_of_a_weighted_seven(start: Start) -> None:
    stakes = (32, 17, 17, 10, 10, 9, 5)  # n1 holds 32 of 100
    chain = ChainParams(inclusion_deadline=2)
    found, _, views = await censored_run(start, "censor-7", stakes, chain)
    assert max(i.committed_at - i.held_by_all_at for i in found) <= 1 + chain.inclusion_deadline + 2
    assert all(v["inclusion_delay"]["count"] >= len(found) for v in views), views


async def test_a_fault_free_cluster_under_load_never_prevotes_nil_for_inclusion(
    start: Start,
) -> None:
    cluster = start(censor_spec("fault-free", (10,) * 4, ChainParams(), censor=False))
    addresses = client_addresses(cluster)
    await wait_committing(addresses)
    report = await run_load(list(addresses.values()), rate=2000, duration_s=4, size=100)
    assert report.committed == report.submitted > 0
    for address in addresses.values():
        status = await probe(address, timeout=2)
        assert status is not None
        assert status["censorship"]["inclusion_nil_prevotes"] == 0
        assert status["censorship"]["inclusion_delay"]["count"] > 0
    cluster.down()
    for name in addresses:
        log = cluster.root / name / "data" / "node.log"
        events = [json.loads(line)["event"] for line in log.read_text().splitlines()]
        # A round may time out on a busy machine; none may fail for inclusion.
        assert "inclusion_enforced" not in events
