"""`risk calibrate` on a real cluster run: four node processes on 127.0.0.1 logging at debug
(calibration reads the per-height lines), one killed with SIGKILL and restarted; the
calibrated recovery must be the catch-up the logs show, inside the window the test itself
watched."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import trio
from helpers.cluster import FAST, addresses, height_of, wait_for_height

from sequencer_net.cluster.control import Cluster
from sequencer_net.config import ClusterSpec, NodeParams
from sequencer_net.risk.calibrate import calibrate, genesis_view
from sequencer_net.risk.runlog import read_run


def committed(root: Path, name: str) -> list[dict]:
    lines = (root / name / "data" / "node.log").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["event"] == "committed"]


async def wait_for_failed_round(root: Path, name: str, after_height: int) -> None:
    """Until ``name`` commits a height past ``after_height`` that needed a second round (the
    killed node's turn to propose came up)."""
    with trio.fail_after(60):
        while not any(r["round"] > 0 and r["height"] > after_height for r in committed(root, name)):
            await trio.sleep(0.2)


async def wait_for_second_start(root: Path, name: str) -> None:
    log = root / name / "data" / "node.log"
    with trio.fail_after(60):
        while log.read_text().count('"event": "node_started"') < 2:
            await trio.sleep(0.1)


async def test_calibration_measures_the_recovery_a_killed_node_showed(
    start: Callable[[ClusterSpec], Cluster],
) -> None:
    # Empty batches at once (1 ms), as a loaded chain runs: the model's rounds lost count heights.
    busy = NodeParams(empty_batch_interval_ms=1)
    cluster = start(ClusterSpec("calib", 4, timeouts=FAST, log_level="debug", params=busy))
    nodes = addresses(cluster)
    await wait_for_height(nodes["n2"], 5)
    cluster.kill("n2")
    killed_at = await height_of(nodes["n1"])
    assert killed_at is not None
    await wait_for_failed_round(cluster.root, "n1", killed_at)
    restarted = time.time()
    cluster.restart("n2")
    await wait_for_second_start(cluster.root, "n2")
    # Every other node's height now is at least what it had when n2 started, so n2 passing
    # them all means it committed a height nobody had then.
    others = [await height_of(nodes[name]) for name in ("n1", "n3", "n4")]
    assert None not in others
    await wait_for_height(nodes["n2"], max(h for h in others if h is not None) + 1)
    seen_caught_up = time.time()
    cluster.down()

    found = calibrate(read_run(cluster.root), genesis_view(cluster.root))
    (restart,) = found["restarts"]
    assert restart["node"] == "n2"
    recovery = found["parameters"]["recovery_s"]
    assert recovery["measured"] and recovery["value"] == round(restart["caught_up_s"], 3)
    # The log's catch-up happened inside the window this test watched from outside.
    assert 0 < recovery["value"] <= seen_caught_up - restarted
    # And it is the log's own: n2's first commit of a height nobody had when it started.
    n2_log = [
        json.loads(line)
        for line in (cluster.root / "n2" / "data" / "node.log").read_text().splitlines()
    ]
    (_, second_start) = [r for r in n2_log if r["event"] == "node_started"]
    others_tip = max(
        r["height"]
        for name in ("n1", "n3", "n4")
        for r in committed(cluster.root, name)
        if r["timestamp"] <= second_start["timestamp"]
    )
    first_new = next(
        r
        for r in committed(cluster.root, "n2")
        if r["timestamp"] >= second_start["timestamp"] and r["height"] > others_tip
    )
    expect = (
        datetime.fromisoformat(first_new["timestamp"])
        - datetime.fromisoformat(second_start["timestamp"])
    ).total_seconds()
    assert abs(recovery["value"] - expect) < 0.01
    rounds = found["parameters"]["rounds_lost_per_outage"]
    assert rounds["measured"] and rounds["value"] >= 1  # n2's turn failed at least once
    assert restart["rounds_lost"] == rounds["value"]
    assert restart["model_rounds_lost"] >= 1  # the model, from genesis stakes and window

    # The command prints the same, and says what was measured.
    done = subprocess.run(
        [sys.executable, "-m", "sequencer_net", "risk", "calibrate", str(cluster.root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "recovery_s" in done.stdout and "yes" in done.stdout
    assert f"recovery_s = {recovery['value']}" in done.stdout
