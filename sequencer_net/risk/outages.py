"""From components' down intervals to the chain's halts: a height halts while the live stake
is two thirds of the total or less (byzantine stake never counts as live), and the chain runs
again ``recovery_s`` after quorum returns (catch-up and a first round).

Only real intervals become events, flattened across trials and sorted once by (trial, time):
most of a trial's interval slots lie past the horizon, and sorting them would cost ten times
the work."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Outages:
    """Every halt of every trial, flat: ``trial[i]`` had a halt from ``start[i]`` lasting
    ``duration[i]`` seconds."""

    trial: np.ndarray
    start: np.ndarray
    duration: np.ndarray
    trials: int

    def downtime(self) -> np.ndarray:
        """Seconds halted, per trial."""
        return np.bincount(self.trial, weights=self.duration, minlength=self.trials)

    def count(self) -> np.ndarray:
        return np.bincount(self.trial, minlength=self.trials)


def halts(
    components: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    stakes: np.ndarray,
    byzantine: np.ndarray,
    horizon_s: float,
    recovery_s: float,
) -> Outages:
    """``components`` holds ``(starts, ends, members)``: a component's down intervals
    ``(trials, K)`` and the 0/1 vector of nodes it takes down. A node is down while any of
    its components is."""
    trials = components[0][0].shape[0]
    total = int(stakes.sum())
    if 3 * int(stakes[~byzantine].sum()) <= 2 * total:  # halted from the start, for good
        return Outages(np.arange(trials), np.zeros(trials), np.full(trials, horizon_s), trials)
    trial, time, node_delta = [], [], []
    for starts, ends, members in components:
        real = ends > starts
        rows = np.nonzero(real)[0]
        trial += [rows, rows]
        time += [starts[real], ends[real]]
        change = np.broadcast_to(members.astype(np.int16), (len(rows), len(members)))
        node_delta += [change, -change]
    trial_a = np.concatenate(trial)
    time_a = np.concatenate(time)
    order = np.argsort(trial_a * (2.0 * horizon_s) + time_a)
    trial_a, time_a = trial_a[order], time_a[order]
    counts = np.cumsum(np.concatenate(node_delta)[order], axis=0)  # every trial ends at zero
    down = (counts > 0) | byzantine
    live = (~down) @ stakes
    halted = 3 * live <= 2 * total
    last = np.append(trial_a[1:] != trial_a[:-1], True)
    following = np.where(last, horizon_s, np.append(time_a[1:], horizon_s))
    return _runs(trial_a, time_a, following - time_a, halted, trials, horizon_s, recovery_s)


def _runs(
    trial: np.ndarray,
    begin: np.ndarray,
    seg: np.ndarray,
    halted: np.ndarray,
    trials: int,
    horizon_s: float,
    recovery_s: float,
) -> Outages:
    """Join consecutive halted segments into halts, extend each by the recovery time, and
    join halts the recovery closes the gap between."""
    keep = halted & (seg > 0)
    trial, start = trial[keep], begin[keep]
    end = start + seg[keep]
    if len(start) == 0:
        return Outages(trial, start, end, trials)
    joined = (trial[1:] == trial[:-1]) & (start[1:] <= end[:-1] + recovery_s)
    first = np.concatenate([[True], ~joined])
    run_end = np.maximum.reduceat(end, np.flatnonzero(first))
    run_start = start[first]
    run_end = np.minimum(run_end + recovery_s, horizon_s)
    return Outages(trial[first], run_start, run_end - run_start, trials)
