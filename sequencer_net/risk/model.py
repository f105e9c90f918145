"""The Monte Carlo: run each variant (single sequencer, the configured set, and the set
without reputation and with or without correlated failures) over the same number of trials,
in chunks so a million trials fit in memory."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .censor import censored_delays
from .exposure import outage_losses, risk_measures
from .outages import halts
from .processes import down_intervals
from .scenario import Group, Scenario, SequencerSet

CHUNK = 20_000
MEMORY = 8  # the longest reputation skip, in windows (sequencer_net/reputation.py)


@dataclass(frozen=True)
class Variant:
    name: str
    sequencers: SequencerSet
    scenario: Scenario
    single: bool = False


@dataclass
class VariantResult:
    """Per-trial arrays (downtime, outage count, timeout seconds, loss) and per-event arrays
    (outage durations, censored delays), all in seconds or book currency."""

    name: str
    downtime_s: np.ndarray
    outages: np.ndarray
    timeouts_s: np.ndarray
    losses: np.ndarray
    durations_s: np.ndarray
    censor_delay_s: np.ndarray

    def summary(self) -> dict[str, float]:
        d = self.durations_s
        minutes = self.downtime_s / 60
        return {
            "downtime_min_mean": float(minutes.mean()),
            "downtime_min_p99": float(np.quantile(minutes, 0.99)),
            "outages_per_year": float(self.outages.mean()),
            "outage_min_p50": float(np.quantile(d, 0.5) / 60) if len(d) else 0.0,
            "outage_min_p99": float(np.quantile(d, 0.99) / 60) if len(d) else 0.0,
            "outage_min_max": float(d.max() / 60) if len(d) else 0.0,
            "timeouts_s_mean": float(self.timeouts_s.mean()),
            "censor_delay_s_p50": float(np.quantile(self.censor_delay_s, 0.5)),
            "censor_delay_s_p99": float(np.quantile(self.censor_delay_s, 0.99)),
            **risk_measures(self.losses),
        }


def variants(scenario: Scenario) -> list[Variant]:
    s = scenario.sequencers
    single = SequencerSet(("seq",), (1,), scenario.single)
    out = [
        Variant("single sequencer", single, scenario, single=True),
        Variant("set", s, scenario),
        Variant("set, no reputation", s, scenario.with_protocol(reputation=False)),
    ]
    if s.groups:
        out.append(Variant("set, independent failures", replace(s, groups=()), scenario))
    else:
        everyone = Group("shared provider", tuple(range(len(s.stakes))), scenario.shared_provider)
        out.append(Variant("set, one shared provider", replace(s, groups=(everyone,)), scenario))
    return out


def run(scenario: Scenario, trials: int, seed: int) -> list[VariantResult]:
    """Every variant, each from a fresh generator seeded with ``seed`` (common random
    numbers): the set and its variants see the same node failures, so their differences come
    from what the variant changes, not from sampling noise."""
    return [simulate(v, trials, np.random.default_rng(seed)) for v in variants(scenario)]


def simulate(variant: Variant, trials: int, rng: np.random.Generator) -> VariantResult:
    parts = [_chunk(variant, min(CHUNK, trials - done), rng) for done in range(0, trials, CHUNK)]
    return VariantResult(
        name=variant.name,
        **{key: np.concatenate([p[key] for p in parts]) for key in parts[0]},
    )


def _chunk(variant: Variant, trials: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    scenario, s = variant.scenario, variant.sequencers
    protocol = scenario.protocol
    n = len(s.stakes)
    stakes = np.array(s.stakes, dtype=np.int64)
    components, timeouts = [], np.zeros(trials)
    share = stakes / stakes.sum()
    for i in range(n):
        trial, start, end = down_intervals(s.failures, scenario.horizon_s, trials, rng)
        components.append((trial, start, end, np.eye(n, dtype=np.int8)[i]))
        timeouts += _timeouts(trial, end - start, share[i], variant, trials)
    for group in s.groups:
        trial, start, end = down_intervals(group.failures, scenario.horizon_s, trials, rng)
        members = np.zeros(n, dtype=np.int8)
        members[list(group.members)] = 1
        components.append((trial, start, end, members))
        for m in group.members:
            timeouts += _timeouts(trial, end - start, share[m], variant, trials)
    byzantine = np.zeros(n, dtype=bool)
    byzantine[list(s.byzantine)] = True
    recovery = 0.0 if variant.single else protocol.recovery_s
    found = halts(components, stakes, byzantine, trials, scenario.horizon_s, recovery)
    windows = np.minimum(found.duration, scenario.escape_delay_s)
    losses = np.bincount(
        found.trial, weights=outage_losses(scenario.exposure, windows, rng), minlength=trials
    )
    censor_share = float(share[list(s.censors)].sum())
    delays = censored_delays(
        censor_share,
        protocol,
        len(s.censors),
        trials,
        rng,
        escape_delay_s=scenario.escape_delay_s if variant.single else None,
    )
    return {
        "downtime_s": found.downtime(),
        "outages": found.count(),
        "timeouts_s": timeouts,
        "losses": losses,
        "durations_s": found.duration,
        "censor_delay_s": delays,
    }


def _timeouts(
    trial: np.ndarray, durations: np.ndarray, share: float, variant: Variant, trials: int
) -> np.ndarray:
    """Seconds of failed rounds a down proposer costs, per trial (the chain still runs,
    slower): one round timeout per turn it fails to propose."""
    if variant.single:
        return np.zeros(trials)
    protocol = variant.scenario.protocol
    heights = durations / protocol.block_time_s
    if protocol.reputation:
        turns = failed_turns(heights, share, protocol.reputation_window)
    else:
        turns = heights * share
    return np.bincount(trial, weights=turns * protocol.round_timeout_s, minlength=trials)


def failed_turns(heights: np.ndarray, share: float, window: int) -> np.ndarray:
    """Turns a proposer down for ``heights`` fails under leader reputation
    (sequencer_net/reputation.py): its turn comes every 1/share heights; after its k-th
    failure it is skipped for min(2^(k-1), 8) windows, then fails again at its next turn."""
    gap = 1 / share
    skips = [min(2**j, MEMORY) * window + gap for j in range(4)]  # after failures 1..4
    covered = np.cumsum(skips)
    x = heights - gap  # heights after the first failed turn
    within = np.searchsorted(covered, x, side="right")
    beyond = 4 + np.floor((x - covered[-1]) / (MEMORY * window + gap))
    later = np.where(x < covered[-1], within, beyond)
    return np.where(x < 0, heights * share, 1 + later)
