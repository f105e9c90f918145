"""Benchmark: simulated heights per CPU second, for 4 and 10 fault-free nodes.

Prints one JSON line per cluster size with the median over several seeds. CPU time (not wall
time) is measured, so a busy machine disturbs the figure less.

    python scripts/bench_sim.py [--heights 50] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from sequencer_net.sim import Scenario, simulate


def measure(nodes: int, heights: int, seed: int) -> float:
    scenario = Scenario(nodes=nodes, heights=heights, liveness_heights=0)
    started = time.process_time()
    result = simulate(scenario, seed)
    cpu = time.process_time() - started
    if not result.ok:
        raise SystemExit(f"seed {seed} failed: {result.report.violations}")
    return result.report.heights / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heights", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--nodes", type=int, nargs="+", default=[4, 10])
    args = parser.parse_args()
    for nodes in args.nodes:
        rates = [measure(nodes, args.heights, seed) for seed in range(args.runs)]
        print(
            json.dumps(
                {
                    "benchmark": "sim_heights_per_cpu_second",
                    "nodes": nodes,
                    "heights_per_run": args.heights,
                    "runs": args.runs,
                    "median": round(statistics.median(rates), 1),
                    "min": round(min(rates), 1),
                    "max": round(max(rates), 1),
                }
            )
        )


if __name__ == "__main__":
    main()
