"""The emulated WAN in the simulator: per-pair delays from the spec's matrix, deterministic for
a seed, in order on each link, and a cluster over configs/wan-7.toml keeps every invariant.
A failing seed prints its replay command."""

from __future__ import annotations

import random

import pytest
from helpers.cli import run
from helpers.paths import CONFIGS

from sequencer_net import codec
from sequencer_net.config import load_cluster_spec
from sequencer_net.latency import LinkLatency
from sequencer_net.sim import Scenario, Simulation
from sequencer_net.sim.batch import run_seeds
from sequencer_net.sim.network import Network

WAN_7 = CONFIGS / "wan-7.toml"
REPLAY = "sequencer-net sim --network configs/wan-7.toml --seeds 1 --seed {seed}"


def wan_7(**changes: object) -> Scenario:
    spec = load_cluster_spec(WAN_7)
    assert spec.network is not None
    return Scenario(
        nodes=spec.nodes,
        stakes=spec.stakes,
        timeouts=spec.timeouts,
        latency=spec.network.matrix(spec.node_names),
        latency_seed=spec.network.seed,
        **changes,  # type: ignore[arg-type]
    )


def three_nodes() -> Scenario:
    near, far = LinkLatency(20, 10), LinkLatency(100, 30)
    matrix = ((LinkLatency(0), near, far), (near, LinkLatency(0), far), (far, far, LinkLatency(0)))
    return Scenario(nodes=3, latency=matrix, latency_seed=3)


def deliveries(seed: int, messages: int = 200) -> list[tuple[int, int, int, int]]:
    """(send time, src, dst, arrival) of ``messages`` sends over random pairs of three nodes."""
    network = Network(three_nodes(), random.Random(seed), 3, seed)
    picks = random.Random(0)  # the same sends for every seed: only the network's draws differ
    found = []
    for i in range(messages):
        src, dst = picks.sample(range(3), 2)
        now = i * 3
        for delay in network.delivery_delays(src, dst, now):
            found.append((now, src, dst, now + delay))
    return found


def test_the_same_seed_gives_the_same_delivery_times_and_another_can_differ() -> None:
    assert deliveries(5) == deliveries(5)
    assert deliveries(5) != deliveries(6)


def test_each_message_takes_at_least_its_pairs_delay_and_links_deliver_in_order() -> None:
    scenario = three_nodes()
    last: dict[tuple[int, int], int] = {}
    for now, src, dst, arrival in deliveries(11):
        latency = scenario.latency[src][dst]
        assert arrival - now >= latency.delay_ms
        assert arrival >= last.get((src, dst), 0), "a link overtook its own message"
        last[(src, dst)] = arrival


def test_far_pairs_take_longer_than_near_ones() -> None:
    delays: dict[bool, list[int]] = {True: [], False: []}
    for now, src, dst, arrival in deliveries(2, 600):
        delays[2 in (src, dst)].append(arrival - now)
    assert min(delays[True]) >= 100 and max(delays[False]) < 100


def fingerprint(scenario: Scenario, seed: int) -> tuple[object, ...]:
    sim = Simulation(scenario, seed)
    result = sim.run()
    assert result.ok, f"{result.report.violations[:3]}; replay: {REPLAY.format(seed=seed)}"
    chains = [
        b"".join(codec.encode(inst.chain.get(h)) for h in range(1, inst.chain.last_height() + 1))
        for inst in sim.instances
    ]
    return (result.virtual_ms, result.events, tuple(chains))


def test_a_wan_run_replays_exactly_from_its_seed() -> None:
    scenario = wan_7(heights=8)
    assert fingerprint(scenario, 3) == fingerprint(scenario, 3)
    assert fingerprint(scenario, 3) != fingerprint(scenario, 4)


def test_wan_7_keeps_every_invariant_and_heights_take_wan_time() -> None:
    scenario = wan_7(heights=10)
    results = list(run_seeds(scenario, range(6), workers=2))
    failed = [r for r in results if not r.ok]
    replays = ", ".join(REPLAY.format(seed=r.seed) for r in failed)
    assert not failed, f"{[r.report.violations[:3] for r in failed]}; replay: {replays}"
    for r in results:
        # A height needs at least three one-way trips between a quorum: never LAN-fast.
        assert r.virtual_ms >= 10 * 3 * 9, r.virtual_ms


def test_wan_with_drops_and_partitions_before_gst_keeps_every_invariant() -> None:
    scenario = wan_7(heights=6, drop=0.05, partitions=True)
    failed = [r for r in run_seeds(scenario, range(4), workers=2) if not r.ok]
    replays = ", ".join(
        f"{REPLAY.format(seed=r.seed)} --drop 0.05 --partitions --heights 6" for r in failed
    )
    assert not failed, f"{[r.report.violations[:3] for r in failed]}; replay: {replays}"


def test_sim_refuses_a_spec_without_network(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "sim", "--network", CONFIGS / "local-4.toml")
    assert code == 2 and "has no [network] table" in err
    code, _, err = run(capsys, "sim", "--network", CONFIGS / "wan-7.toml", "--nodes", "4")
    assert code == 2 and "places 7 nodes" in err
