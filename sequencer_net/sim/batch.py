"""Running many seeds of one scenario, spread over worker processes, and summing them up."""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from .runner import SimResult, simulate
from .scenario import Scenario


def run_seeds(
    scenario: Scenario,
    seeds: range,
    workers: int | None = None,
) -> Iterator[SimResult]:
    """Yield one result per seed, in seed order. Each seed is deterministic wherever it runs."""
    workers = max(1, min(workers or os.cpu_count() or 1, len(seeds)))
    if workers == 1:
        for seed in seeds:
            yield simulate(scenario, seed)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        chunk = max(1, len(seeds) // (workers * 8))
        yield from pool.map(_run_one, [(scenario, seed) for seed in seeds], chunksize=chunk)


def _run_one(job: tuple[Scenario, int]) -> SimResult:
    scenario, seed = job
    return simulate(scenario, seed)


@dataclass(frozen=True)
class Summary:
    seeds: int
    failed: list[SimResult]
    heights_min: int
    heights_median: float
    heights_max: int
    rounds_per_height_mean: float
    rounds_per_height_max: int
    view_changes: int
    heights_total: int
    seeds_with_evidence: int
    evidence_total: int
    offenders: list[str]
    seeds_with_slash: int
    virtual_s_median: float
    messages_sent: int
    messages_dropped: int

    def to_json(self) -> dict[str, object]:
        data = {k: v for k, v in self.__dict__.items() if k != "failed"}
        data["violations"] = sum(len(r.report.violations) for r in self.failed)
        data["failed_seeds"] = [
            {"seed": r.seed, "violations": r.report.violations} for r in self.failed
        ]
        return data


def summarise(results: list[SimResult]) -> Summary:
    heights = [r.report.heights for r in results]
    rounds = [round_ + 1 for r in results for round_ in r.report.commit_rounds]
    offenders = sorted({name for r in results for name in r.report.offenders})
    return Summary(
        seeds=len(results),
        failed=[r for r in results if not r.ok],
        heights_min=min(heights, default=0),
        heights_median=statistics.median(heights) if heights else 0,
        heights_max=max(heights, default=0),
        rounds_per_height_mean=round(statistics.fmean(rounds), 3) if rounds else 0.0,
        rounds_per_height_max=max(rounds, default=0),
        view_changes=sum(r.report.view_changes for r in results),
        heights_total=len(rounds),
        seeds_with_evidence=sum(1 for r in results if r.report.evidence),
        evidence_total=sum(r.report.evidence for r in results),
        offenders=offenders,
        seeds_with_slash=sum(1 for r in results if r.report.jailed),
        virtual_s_median=statistics.median(r.virtual_ms for r in results) / 1000 if results else 0,
        messages_sent=sum(r.messages_sent for r in results),
        messages_dropped=sum(r.messages_dropped for r in results),
    )
