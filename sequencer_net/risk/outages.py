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


Component = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def halts(
    components: list[Component],
    stakes: np.ndarray,
    byzantine: np.ndarray,
    trials: int,
    horizon_s: float,
    recovery_s: float,
) -> Outages:
    """``components`` holds ``(trial, start, end, members)``: a component's outages (as
    from ``down_intervals``) and the 0/1 vector of the nodes it takes down. A node is down
    while any of its components is."""
    total = int(stakes.sum())
    honest = ~byzantine
    if 3 * int(stakes[honest].sum()) <= 2 * total:  # halted from the start, for good
        return Outages(np.arange(trials), np.zeros(trials), np.full(trials, horizon_s), trials)
    candidates = _may_halt(components, stakes, honest, trials, horizon_s)
    keep = [candidates[c[0]] for c in components]
    time = np.concatenate(
        [x for c, k in zip(components, keep, strict=True) for x in (c[1][k], c[2][k])]
    )
    trial = np.concatenate(
        [x for c, k in zip(components, keep, strict=True) for x in (c[0][k], c[0][k])]
    )
    delta = np.concatenate(
        [
            np.outer(sign * np.ones(int(k.sum()), np.int16), c[3]).astype(np.int16)
            for c, k in zip(components, keep, strict=True)
            for sign in (1, -1)
        ]
    )
    order = np.argsort(trial * (2.0 * horizon_s) + time)
    trial, time = trial[order], time[order]
    counts = np.cumsum(delta[order], axis=0)  # every trial ends at zero
    down = (counts > 0) | byzantine
    live = (~down) @ stakes
    halted = 3 * live <= 2 * total
    last = np.append(trial[1:] != trial[:-1], True)
    following = np.where(last, horizon_s, np.append(time[1:], horizon_s))
    return _runs(trial, time, following - time, halted, trials, horizon_s, recovery_s)


def _may_halt(
    components: list[Component],
    stakes: np.ndarray,
    honest: np.ndarray,
    trials: int,
    horizon_s: float,
) -> np.ndarray:
    """Trials that can halt: one with an outage of a component that halts the chain alone,
    or with two outages that overlap. The rest (most of them, for a BFT set) skip the full
    sweep, which costs ten times this check."""
    total = int(stakes.sum())
    honest_stake = int(stakes[honest].sum())
    maybe = np.zeros(trials, dtype=bool)
    for trial, _, _, members in components:
        lost = int(stakes[honest & members.astype(bool)].sum())
        if 3 * (honest_stake - lost) <= 2 * total:
            maybe[trial] = True
    trial = np.concatenate([c[0] for c in components])
    base = trial * (2.0 * horizon_s)
    start = base + np.concatenate([c[1] for c in components])
    end = base + np.concatenate([c[2] for c in components])
    order = np.argsort(start)
    reach = np.maximum.accumulate(end[order])  # across trials too: keys grow with the trial
    overlaps = start[order][1:] < reach[:-1]
    maybe[trial[order][1:][overlaps]] = True
    return maybe


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
