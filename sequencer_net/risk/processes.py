"""Failure and repair processes: for each trial, the down intervals of one component (a node
or a correlated group) over the horizon, as an alternating renewal process.

Each component starts in its long-run state: down with probability MTTR/(MTBF+MTTR), with a
fresh repair time (exact for exponential repairs, by memorylessness), so time averages match
the stationary formulas from the first second of the horizon."""

from __future__ import annotations

import math

import numpy as np

from .scenario import Failures


def repair_times(
    failures: Failures, rng: np.random.Generator, shape: tuple[int, ...]
) -> np.ndarray:
    """Repair durations whose mean is ``failures.mttr_s``."""
    mean = failures.mttr_s
    if failures.repair == "exponential":
        return rng.exponential(mean, shape)
    if failures.repair == "lognormal":
        sigma = failures.shape
        return rng.lognormal(math.log(mean) - sigma**2 / 2, sigma, shape)
    alpha = failures.shape  # pareto (Lomax) with mean scale / (alpha - 1)
    return (alpha - 1) * mean * rng.pareto(alpha, shape)


def down_intervals(
    failures: Failures, horizon_s: float, trials: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(trial, start, end)``: every outage of the component inside the horizon, clipped to
    it, in no particular order. A block of failures a little above the mean count is drawn
    for every trial, and further blocks only for the trials whose last failure is still
    inside the horizon."""
    expected = horizon_s / failures.mtbf_s
    slots = math.ceil(expected + 2 * math.sqrt(expected) + 2)
    p_down = failures.mttr_s / (failures.mtbf_s + failures.mttr_s)
    first = repair_times(failures, rng, (trials,))
    first *= rng.random(trials) < p_down  # starts down, or up (an empty outage)
    found = [(np.arange(trials), np.zeros(trials), first)]
    rows, clock = np.arange(trials), first
    while len(rows):
        up = rng.exponential(failures.mtbf_s, (len(rows), slots))
        down = repair_times(failures, rng, (len(rows), slots))
        starts = clock[:, None] + np.cumsum(up, axis=1)
        starts[:, 1:] += np.cumsum(down[:, :-1], axis=1)
        ends = starts + down
        found.append((np.repeat(rows, slots), starts.ravel(), ends.ravel()))
        more = starts[:, -1] < horizon_s
        rows, clock = rows[more], ends[more, -1]
    trial, start, end = (np.concatenate(parts) for parts in zip(*found, strict=True))
    keep = (start < horizon_s) & (end > start)
    return trial[keep], start[keep], np.minimum(end[keep], horizon_s)
