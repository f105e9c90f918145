"""`risk SCENARIO`: run the model and show the variants side by side, as a table or JSON."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .model import VariantResult, run
from .scenario import Scenario, load_scenario

# (key, column heading, format) in table order.
COLUMNS = (
    ("downtime_min_mean", "downtime\nmin/yr mean", "{:.1f}"),
    ("downtime_min_p99", "downtime\nmin/yr p99", "{:.1f}"),
    ("outages_per_year", "outages\n/yr", "{:.3f}"),
    ("outage_min_p50", "outage\nmin p50", "{:.0f}"),
    ("outage_min_p99", "outage\nmin p99", "{:.0f}"),
    ("timeouts_s_mean", "failed-round\ns/yr", "{:.0f}"),
    ("censor_delay_s_p50", "censored tx\ndelay p50 s", "{:.0f}"),
    ("censor_delay_s_p99", "censored tx\ndelay p99 s", "{:.0f}"),
    ("expected_loss", "expected\nloss", "{:,.0f}"),
    ("var_95", "VaR 95", "{:,.0f}"),
    ("cvar_95", "CVaR 95", "{:,.0f}"),
    ("var_99", "VaR 99", "{:,.0f}"),
    ("cvar_99", "CVaR 99", "{:,.0f}"),
)


def run_scenario(
    path: Path,
    trials: int,
    seed: int,
    as_json: bool,
    report: Path | None,
    calibrated: Path | None = None,
) -> int:
    scenario = load_scenario(path)
    measured: dict[str, float] = {}
    if calibrated is not None:
        from .calibrate import measured_protocol

        measured = measured_protocol(calibrated)
        scenario = scenario.with_protocol(**measured)
    began = time.perf_counter()
    results = run(scenario, trials, seed)
    elapsed = time.perf_counter() - began
    summary = to_json(scenario, results, trials, seed, elapsed)
    summary["measured"] = measured
    if report is not None:
        from .plots import write_report

        summary["report"] = str(write_report(report, scenario, results, summary, seed))
    if as_json:
        print(json.dumps(summary))
    else:
        _print_table(summary)
    return 0


def to_json(
    scenario: Scenario, results: list[VariantResult], trials: int, seed: int, elapsed: float
) -> dict[str, Any]:
    return {
        "scenario": scenario.name,
        "trials": trials,
        "seed": seed,
        "horizon_days": scenario.horizon_s / 86400,
        "seconds": round(elapsed, 3),
        "variants": {r.name: r.summary() for r in results},
    }


def _print_table(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{summary['scenario']}: {summary['trials']:,} trials of "
        f"{summary['horizon_days']:g} days, seed {summary['seed']} "
        f"({summary['seconds']:.1f} s)"
    )
    table.add_column("variant")
    for _, heading, _ in COLUMNS:
        table.add_column(heading, justify="right")
    for name, numbers in summary["variants"].items():
        table.add_row(name, *(fmt.format(numbers[key]) for key, _, fmt in COLUMNS))
    console = Console(markup=False, width=200)
    console.print(table)
    if summary["measured"]:
        shown = ", ".join(f"{k} = {v:g}" for k, v in summary["measured"].items())
        console.print(f"measured by risk calibrate: {shown}")
    if "report" in summary:
        console.print(f"report: {summary['report']}")
