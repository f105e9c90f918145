"""scripts/bench.py's pure parts: medians over runs, ratios, the side-by-side summary, the
sustainability rule and argument checks (the bench itself prints JSON; it is never timed here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).parents[2] / "scripts" / "bench.py"


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = load_bench()


def test_median_skips_what_was_not_measured() -> None:
    assert bench.median([3.0, None, 1.0, 2.0]) == 2.0
    assert bench.median([4.0, 1.0]) == 2.5
    assert bench.median([None, None]) is None


def test_ratio_is_none_without_both_sides() -> None:
    assert bench.ratio(2000.0, 16000.0) == 0.125
    assert bench.ratio(None, 5.0) is None
    assert bench.ratio(5.0, 0.0) is None
    assert bench.ratio(5.0, None) is None


def test_summary_gives_medians_per_system_and_ratios_of_medians() -> None:
    def run(ours: float, theirs: float, p50: float) -> dict[str, dict[str, object]]:
        return {
            "ours": {"committed_tx_per_s": ours, "latency_p50_ms": p50, "latency_p99_ms": 9.0},
            "pysyncobj": {"committed_tx_per_s": theirs, "latency_p50_ms": 100.0},
        }

    summary = bench.summarize([run(1000, 4000, 50), run(3000, 2000, 200), run(2000, 3000, 100)])
    assert summary["median"]["ours"]["committed_tx_per_s"] == 2000
    assert summary["median"]["pysyncobj"]["committed_tx_per_s"] == 3000
    assert summary["median"]["pysyncobj"]["latency_p99_ms"] is None  # not in the runs
    ratios = summary["ratio_ours_over_pysyncobj"]
    assert ratios == {"committed_tx_per_s": 0.667, "latency_p50_ms": 1.0}


def test_a_step_is_sustainable_only_if_nearly_all_commits_at_pace_within_a_second() -> None:
    assert bench.sustainable(990, 1000, 950.0, 200.0, 1000)
    assert not bench.sustainable(900, 1000, 950.0, 200.0, 1000)  # too little committed
    assert not bench.sustainable(990, 1000, 800.0, 200.0, 1000)  # behind the pace
    assert not bench.sustainable(990, 1000, 950.0, 1500.0, 1000)  # too slow
    assert not bench.sustainable(0, 0, 0.0, None, 1000)


def test_arguments() -> None:
    args = bench.parse_args(["--compare", "pysyncobj", "--rate", "500", "--seconds", "1"])
    assert (args.compare, args.runs, args.rate, args.size) == ("pysyncobj", 3, 500, 100)
    for bad in (
        ["--compare", "raft"],
        ["--runs", "0"],
        ["--seconds", "0"],
        ["--compare", "pysyncobj", "--crash-one"],
        ["--compare", "pysyncobj", "--encrypted"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            bench.parse_args(bad)
        assert exit_info.value.code == 2


def test_encrypted_is_an_option_of_the_cluster_runs() -> None:
    assert bench.parse_args(["--nodes", "4", "--encrypted"]).encrypted
    assert not bench.parse_args(["--nodes", "4"]).encrypted


def drive(ramp: object, limit: int) -> list[int]:
    """The rates a ramp offers to a system that sustains everything up to ``limit``."""
    offered = []
    for rate in ramp:  # type: ignore[attr-defined]
        offered.append(rate)
        ramp.result(rate, rate <= limit)  # type: ignore[attr-defined]
    return offered


def test_the_ramp_climbs_the_ladder_then_bisects_twice_below_the_failed_step() -> None:
    Ramp = bench.Ramp
    assert drive(Ramp((1, 2, 4, 8, 16, 32)), limit=27) == [1, 2, 4, 8, 16, 32, 24, 28]
    assert drive(Ramp((1, 2, 4, 8, 16, 32)), limit=20) == [1, 2, 4, 8, 16, 32, 24, 20]
    assert drive(Ramp((1000, 2000)), limit=5000) == [1000, 2000], "no failure: no bisection"
    assert drive(Ramp((1000, 2000)), limit=500) == [1000], "nothing sustained: nothing to bisect"
    assert drive(Ramp((4000,)), limit=0) == [4000], "one fixed rate is offered once"


def test_a_running_process_is_alive_and_a_reaped_one_is_not() -> None:
    import os
    import subprocess

    assert bench.alive(os.getpid())
    child = subprocess.Popen(["true"])
    child.wait()
    assert not bench.alive(child.pid)


def test_a_wan_config_and_a_rate_ladder(tmp_path: Path) -> None:
    config = Path(__file__).parents[2] / "configs" / "wan-7.toml"
    args = bench.parse_args(["--config", str(config), "--rates", "500,1000", "--seconds", "5"])
    assert args.rates == (500, 1000)
    assert args.spec.nodes == 7 and args.spec.network is not None
    broken = tmp_path / "broken.toml"
    broken.write_text(config.read_text().replace('n7 = "sa-east-1"', 'n7 = "mars"'))
    for bad in (
        ["--config", str(broken)],
        ["--config", str(tmp_path / "missing.toml")],
        ["--rates", "500,x"],
        ["--rates", "0,500"],
        ["--rate", "500", "--rates", "500,1000"],
        ["--compare", "pysyncobj", "--config", str(config)],
    ):
        with pytest.raises(SystemExit) as exit_info:
            bench.parse_args(bad)
        assert exit_info.value.code == 2
