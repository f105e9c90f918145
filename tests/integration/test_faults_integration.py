"""Fault injection with real node processes on 127.0.0.1, driven through the `sequencer-net`
command as a user would: mute and clear, partition and heal, network faults with kill -9, and
the crash fault. Every test stops every process it starts."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import trio
from helpers.cluster import (
    FAST,
    addresses,
    assert_chains_agree,
    assert_failed_rounds_agree,
    chains,
    cli,
    events,
    evidence_logged,
    height_of,
    wait_for_height,
)

from sequencer_net.client import Client
from sequencer_net.cluster.control import Cluster
from sequencer_net.cluster.procs import ProcState
from sequencer_net.config import ClusterSpec, NodeParams
from sequencer_net.faults import Crash, Delay, Drop, Mute

# Lost messages come back at the next re-broadcast; a short one keeps lossy runs quick.
QUICK_RESEND = NodeParams(rebroadcast_ms=200)


async def signers(address: str, height: int) -> list[str]:
    async with await Client.connect(address) as client:
        return (await client.batch(height))["signers"]


async def test_muted_node_leaves_certificates_until_cleared(
    start: Callable[[ClusterSpec], Cluster],
) -> None:
    cluster = start(ClusterSpec("mute", 4, timeouts=FAST))
    n1 = addresses(cluster)["n1"]
    await wait_for_height(n1, 3)
    assert (await cli(cluster, "fault", "set", "n2", "mute")).strip() == "n2: mute"
    listed = json.loads(await cli(cluster, "fault", "list", "--json"))
    assert listed["n2"] == {"faults": ["mute"], "partitioned_from": []}
    assert listed["n1"] == {"faults": [], "partitioned_from": []}
    muted_at = await height_of(n1)
    assert muted_at is not None
    # n2 may have sent precommits up to one height past n1's before the fault took effect;
    # every certificate after that is made without n2.
    first, last = muted_at + 3, muted_at + 8
    await wait_for_height(n1, last)
    for height in range(first, last + 1):
        assert "n2" not in await signers(n1, height), f"n2 signed height {height} while mute"
    shown = json.loads(await cli(cluster, "batch", "show", str(last), "--node", "n1", "--json"))
    assert "n2" not in shown["signers"] and len(shown["signers"]) == 3

    assert (await cli(cluster, "fault", "clear", "n2")).strip() == "n2: no faults"
    height = await height_of(n1)
    assert height is not None
    with trio.fail_after(30):
        while True:  # n2's precommits reach certificates again
            height += 1
            await wait_for_height(n1, height)
            if "n2" in await signers(n1, height):
                break
    assert [e["fault"] for e in events(cluster, "n2", "fault_set")] == ["mute"]
    assert [e["fault"] for e in events(cluster, "n2", "fault_cleared")] == ["mute"]


async def test_mute_node_cut_off_and_healed_catches_up_and_follows(
    start: Callable[[ClusterSpec], Cluster],
) -> None:
    """Mute is silent, not deaf: heights it missed while cut off it must fetch (a sync request
    is the one thing it sends), and then commit along with the others."""
    cluster = start(ClusterSpec("follow", 4, timeouts=FAST, faults={"n4": (Mute(),)}))
    nodes = addresses(cluster)
    await wait_for_height(nodes["n1"], 3)
    await cli(cluster, "cluster", "partition", "n4|n1,n2,n3")
    cut_at = await height_of(nodes["n1"])
    assert cut_at is not None
    await wait_for_height(nodes["n1"], cut_at + 5)  # n4 misses these heights
    await cli(cluster, "cluster", "heal")
    for _ in range(2):  # caught up once, and still following afterwards
        target = await height_of(nodes["n1"])
        assert target is not None
        await wait_for_height(nodes["n4"], target + 3)
    cluster.down()
    found = chains(cluster)
    assert_chains_agree(found, at_least=target)


async def test_partitioned_node_falls_behind_catches_up_and_shrugs_off_garbage(
    start: Callable[[ClusterSpec], Cluster],
) -> None:
    cluster = start(ClusterSpec("split", 4, timeouts=FAST))
    nodes = addresses(cluster)
    await wait_for_height(nodes["n1"], 3)
    out = await cli(cluster, "cluster", "partition", "n1|n2,n3,n4")
    assert "n1: cut off from n2, n3, n4" in out and "n4: cut off from n1" in out
    cut_at = await height_of(nodes["n1"])
    majority_at = await height_of(nodes["n2"])
    assert cut_at is not None and majority_at is not None
    await wait_for_height(nodes["n2"], majority_at + 10)  # three of four still commit
    assert await height_of(nodes["n1"]) == cut_at  # alone n1 holds 10 of 40: no quorum
    listed = json.loads(await cli(cluster, "fault", "list", "--json"))
    assert listed["n1"]["partitioned_from"] == ["n2", "n3", "n4"]

    assert "n1: connected to all" in await cli(cluster, "cluster", "heal")
    target = await height_of(nodes["n2"])
    assert target is not None
    await wait_for_height(nodes["n1"], target)
    assert events(cluster, "n1", "partitioned")[0]["peers"] == ["n2", "n3", "n4"]
    assert len(events(cluster, "n1", "healed")) == 1

    # Garbage from n4: n1 logs each bad frame and each bad signature, and goes on committing.
    await cli(cluster, "fault", "set", "n4", "garbage")
    with trio.fail_after(10):
        while not (
            any(e["peer"] == "n4" for e in events(cluster, "n1", "peer_message_rejected"))
            and any(
                e["peer"] == "n4" and e["reason"] == "vote with a bad signature"
                for e in events(cluster, "n1", "rejected")
            )
        ):
            await trio.sleep(0.1)
    before = await height_of(nodes["n1"])
    assert before is not None
    await wait_for_height(nodes["n1"], before + 5)


async def test_network_faults_and_kill_9_keep_committing_without_evidence(
    start: Callable[[ClusterSpec], Cluster],
) -> None:
    """n5 mute, n2 slow, n3 lossy, and n1..n4 killed with SIGKILL and restarted in turn: any
    three of n1..n4 (30 of 42) make a quorum, and each restarted node catches up. Nobody
    equivocates, so no node may report evidence."""
    faults = {"n2": (Delay(30),), "n3": (Drop(0.05),), "n5": (Mute(),)}
    spec = ClusterSpec(
        "rough", 5, (10, 10, 10, 10, 2), timeouts=FAST, params=QUICK_RESEND, faults=faults
    )
    cluster = start(spec)
    nodes = addresses(cluster)
    await wait_for_height(nodes["n1"], 3)
    for victim, witness in (("n1", "n4"), ("n2", "n1"), ("n3", "n2"), ("n4", "n3")):
        before = await height_of(nodes[witness])
        assert before is not None
        cluster.kill(victim)
        cluster.restart(victim)
        await wait_for_height(nodes[victim], before + 5)
        await wait_for_height(nodes[witness], before + 5)
    reached = await height_of(nodes["n1"])
    assert reached is not None
    for name in ("n2", "n3", "n4", "n5"):  # mute n5 too: it asks for what it missed
        await wait_for_height(nodes[name], reached)
    cluster.down()
    assert_chains_agree(chains(cluster), at_least=reached)
    assert_failed_rounds_agree(cluster)
    assert evidence_logged(cluster) == []
    assert [e["fault"] for e in events(cluster, "n3", "fault_set")] == ["drop 0.05"] * 2


async def test_crash_fault_stops_the_node_at_its_height_and_at_every_restart(
    start: Callable[[ClusterSpec], Cluster],
) -> None:
    cluster = start(ClusterSpec("crash", 4, timeouts=FAST, faults={"n4": (Crash(5),)}))
    with trio.fail_after(30):
        while {p.name: p.state for p in cluster.processes()}["n4"] is not ProcState.DEAD:
            await trio.sleep(0.1)
    [crash] = events(cluster, "n4", "fault_crash")
    assert crash["crash_height"] == 5 and crash["height"] >= 5
    assert "Traceback" not in (cluster.root / "n4" / "node.out").read_text()
    # Started again, it is already past height 5: it stops at once, with a non-zero status.
    config = str(cluster.root / "n4" / "node.toml")
    argv = [sys.executable, "-m", "sequencer_net", "node", "--config", config]
    with trio.fail_after(30):
        done = await trio.run_process(argv, capture_stderr=True, check=False)
    assert done.returncode == 3 and b"Traceback" not in done.stderr
    assert len(events(cluster, "n4", "fault_crash")) == 2
    n1 = addresses(cluster)["n1"]
    before = await height_of(n1)
    assert before is not None
    await wait_for_height(n1, before + 5)  # the other three keep committing


async def test_amnesia_makes_a_node_propose_twice_and_honest_nodes_catch_it(
    start: Callable[[ClusterSpec], Cluster],
) -> None:
    cluster = start(ClusterSpec("amnesia", 4, timeouts=FAST))
    nodes = addresses(cluster)
    await wait_for_height(nodes["n1"], 3)
    await cli(cluster, "fault", "set", "n2", "amnesia")
    with trio.fail_after(30):  # its double proposal is reported by the honest nodes
        while not any(
            e["offender"] == "n2" and e["kind"] == "DuplicateProposal"
            for name in ("n1", "n3", "n4")
            for e in events(cluster, name, "evidence_found")
        ):
            await trio.sleep(0.1)
    # Amnesia fires once and is then gone: `fault list` must not show it any more.
    listed = json.loads(await cli(cluster, "fault", "list", "--json"))
    assert listed["n2"]["faults"] == []
    assert len(events(cluster, "n2", "amnesia_restart")) == 1
    before = await height_of(nodes["n1"])
    assert before is not None
    await wait_for_height(nodes["n1"], before + 5)
