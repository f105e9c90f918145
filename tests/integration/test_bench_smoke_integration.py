"""A smoke run of `scripts/bench.py --compare pysyncobj` with tiny numbers: both clusters start,
load, stop, and the JSON has both systems side by side. Asserts shape, never speed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import trio

SCRIPT = Path(__file__).parents[2] / "scripts" / "bench.py"


async def test_compare_prints_both_systems_side_by_side() -> None:
    argv = ["--compare", "pysyncobj", "--runs", "1", "--rate", "100", "--seconds", "1"]
    with trio.fail_after(120):  # a bound on a busy machine, not a timing
        done = await trio.run_process(
            [sys.executable, str(SCRIPT), *argv], capture_stdout=True, capture_stderr=True
        )
    result = json.loads(done.stdout)
    [run] = result["runs"]
    for system in ("ours", "pysyncobj"):
        assert run[system]["committed_tx_per_s"] > 0, run[system]
        assert run[system]["node_rss_mb_max"] > 0
        assert result["median"][system]["latency_p50_ms"] is not None
    assert run["ours"]["peer_bytes_sent_per_committed_tx"] > 0
    assert run["ours"]["load_generator_cpu_s"] >= 0
    # Every node signs and fsyncs at least its prevote and precommit of each height.
    assert run["ours"]["fsyncs_per_height"] >= 2 and run["ours"]["signatures_per_height"] >= 2
    assert set(result["ratio_ours_over_pysyncobj"]) == {"committed_tx_per_s", "latency_p50_ms"}


async def test_encrypted_run_commits_ciphertexts() -> None:
    argv = ["--nodes", "4", "--encrypted", "--rate", "20", "--seconds", "1"]
    with trio.fail_after(120):  # a bound on a busy machine, not a timing
        done = await trio.run_process(
            [sys.executable, str(SCRIPT), *argv], capture_stdout=True, capture_stderr=True
        )
    result = json.loads(done.stdout)
    assert result["encrypted"] is True and result["nodes"] == 4
    assert result["committed_tx_per_s"] > 0, result
