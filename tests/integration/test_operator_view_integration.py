"""The operator's view of a real cluster (configs/byzantine-4.toml, n1 equivocating): `watch`
shows it live and then halted, `status --consensus` dumps a node's consensus state, and
`report` turns the run into plots whose numbers are the chain's."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path

import trio
from helpers.cluster import FAST, addresses, cli, stop_checked, wait_for_height
from helpers.paths import CONFIGS
from matplotlib import image

from sequencer_net.client import Client
from sequencer_net.cluster.control import Cluster
from sequencer_net.config import ClusterSpec, load_cluster_spec, load_genesis
from sequencer_net.store.sqlite import SqliteChainStore
from sequencer_net.types import Tx

HALT_WAIT_S = 60.0
TXS = 5


async def watch_json(cluster: Cluster) -> dict:
    return json.loads(await cli(cluster, "watch", "--once", "--json"))


async def test_watch_consensus_dump_and_report(
    start: Callable[[ClusterSpec], Cluster], tmp_path: Path
) -> None:
    spec = dataclasses.replace(load_cluster_spec(CONFIGS / "byzantine-4.toml"), timeouts=FAST)
    cluster = start(spec)
    nodes = addresses(cluster)
    await wait_for_height(nodes["n2"], 5, timeout=60)
    async with await Client.connect(nodes["n2"]) as client:
        for i in range(TXS):
            await client.submit(Tx("rollup-a", f"sender-{i % 2}", f"tx {i}".encode()))

    live = await watch_json(cluster)
    assert live["chain"] == "LIVE", live
    rows = {r["name"]: r for r in live["nodes"]}
    assert {r["state"] for r in rows.values()} == {"alive"}
    assert rows["n1"]["faults"] == ["equivocate"] and rows["n2"]["faults"] == []
    assert all(r["height"] >= 5 for r in rows.values())

    dump = json.loads(await cli(cluster, "status", "--consensus", "--node", "n2", "--json"))
    state = dump["consensus"]
    assert dump["name"] == "n2" and state["me"] == "n2"
    assert state["height"] >= dump["last_height"] >= 5
    assert {v["name"] for v in state["validators"]} == {"n1", "n2", "n3", "n4"}
    assert state["rounds"] and all(t["height"] == state["height"] for t in dump["timers"])
    lane = dump["lanes"]  # n2 took the transactions above into its own lane
    assert lane["own_uncommitted"] == len(lane["own_chunks"]) + lane["own_chunks_left_out"]
    assert sum(lane["pending_held"].values()) == lane["pending_txs"]
    assert lane["next_seq"] >= 1, "n2's transactions left in at least one chunk of its own"
    text = await cli(cluster, "status", "--consensus", "--node", "n3")
    assert "round 0: proposer" in text and "timeouts running" in text and "lane: " in text

    # n3 and n4 down: what is left (n2, and n1, slashed) is no quorum, and the chain halts.
    cluster.kill("n3")
    cluster.kill("n4")
    with trio.fail_after(HALT_WAIT_S):
        while (halted := await watch_json(cluster))["chain"] != "HALTED":
            await trio.sleep(0.5)
    assert {r["name"]: r["state"] for r in halted["nodes"]}["n3"] == "dead"
    frame = await cli(cluster, "watch", "--once")
    assert frame.lstrip().startswith("HALTED"), frame
    dump = json.loads(await cli(cluster, "status", "--consensus", "--node", "n2", "--json"))
    assert dump["consensus"]["height"] == dump["last_height"] + 1
    done = await trio.run_process(
        [sys.executable, "-m", "sequencer_net", "watch", str(cluster.root), "--duration", "2"],
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert "HALTED" in done.stdout.decode()

    cluster.restart("n3")
    await wait_for_height(nodes["n3"], 1, timeout=60)
    stop_checked(cluster)
    out = tmp_path / "report"
    summary = json.loads(await cli(cluster, "report", "--out", str(out), "--json"))
    assert summary["report"] == str(out / "index.html")
    chain_id = load_genesis(cluster.root / "genesis.toml").genesis.chain_id
    last = {}
    for name in nodes:
        with SqliteChainStore(cluster.root / name / "data" / "chain.sqlite", chain_id) as store:
            last[name] = store.last_height()
    assert {n: v["last_height"] for n, v in summary["nodes"].items()} == last
    assert summary["heights"] == max(last.values()) and summary["transactions"] == TXS
    # n3 killed and restarted, n4 killed and left down: two kills, one restart.
    assert summary["slashes"] >= 1 and summary["events"]["kill"] == 2
    assert summary["events"]["restart"] == 1
    data = json.loads((out / "data.json").read_text())
    assert data["heights"]["n2"]["h"][-1] == last["n2"]
    assert data["events"][0]["t"] >= 0
    page = (out / "index.html").read_text()
    for name in ("heights.png", "latency.png", "throughput.png", "rounds.png", "inclusion.png"):
        assert f'src="{name}"' in page
        assert image.imread(out / name).shape[0] > 200
