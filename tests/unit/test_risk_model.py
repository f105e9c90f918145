"""The risk Monte Carlo against what can be worked out by hand: the binomial chance of no
quorum, a lone sequencer's downtime MTTR/(MTBF+MTTR), no losses without volatility, and
reproducibility from a seed."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest
from helpers.risk import scenario

from sequencer_net.risk import outages
from sequencer_net.risk.censor import censored_delays
from sequencer_net.risk.exposure import risk_measures
from sequencer_net.risk.model import failed_turns, run, simulate, variants
from sequencer_net.risk.outages import Component, halts
from sequencer_net.risk.processes import repair_times
from sequencer_net.risk.scenario import Failures, Protocol, Scenario


def no_quorum_probability(stakes: list[int], p_down: float) -> float:
    """The chance that the down nodes leave two thirds of the stake or less, by enumeration."""
    total = sum(stakes)
    chance = 0.0
    for down in itertools.product((False, True), repeat=len(stakes)):
        live = sum(s for s, d in zip(stakes, down, strict=True) if not d)
        if 3 * live <= 2 * total:
            k = sum(down)
            chance += p_down**k * (1 - p_down) ** (len(stakes) - k)
    return chance


def halted_fraction(s: Scenario, name: str, trials: int, seed: int) -> tuple[float, float]:
    """Mean fraction of the horizon halted, and its Monte Carlo standard error."""
    variant = next(v for v in variants(s) if v.name == name)
    result = simulate(variant, trials, np.random.default_rng(seed))
    fraction = result.downtime_s / s.horizon_s
    return float(fraction.mean()), float(fraction.std() / math.sqrt(trials))


@pytest.mark.parametrize("stakes", [[10, 10, 10, 10], [30, 10, 10, 10], [5, 5, 5, 5, 5, 5, 5]])
def test_no_quorum_probability_matches_the_binomial_formula(stakes: list[int]) -> None:
    s = scenario(set={"stakes": stakes})
    expected = no_quorum_probability(stakes, 360 / (1440 + 360))
    mean, error = halted_fraction(s, "set", 4000, seed=1)
    assert abs(mean - expected) < 4 * error + 1e-4, (mean, expected, error)


def test_single_sequencer_downtime_is_mttr_over_mtbf_plus_mttr() -> None:
    s = scenario(single={"mtbf_days": 2.0, "mttr_minutes": 90})
    expected = 90 / (2 * 1440 + 90)
    mean, error = halted_fraction(s, "single sequencer", 8000, seed=2)
    assert abs(mean - expected) < 4 * error, (mean, expected, error)


def test_recovery_time_is_added_to_every_halt_and_joins_close_ones() -> None:
    def outage(members: list[int], start: float, end: float) -> Component:
        vector = np.zeros(4, dtype=np.int8)
        vector[members] = 1
        return np.array([0]), np.array([float(start)]), np.array([float(end)]), vector

    stakes, honest = np.full(4, 10), np.zeros(4, bool)
    comps = [outage([0], 10, 20), outage([1], 15, 30), outage([2], 19, 25), outage([3], 50, 60)]
    found = halts(comps, stakes, honest, 1, 1000.0, recovery_s=2.0)
    # Two down from 15 to 25 (n1 and n2 overlap n0 and each other), then 2 s to recover.
    assert found.start.tolist() == [15.0] and found.duration.tolist() == [12.0]
    # Halts 16 s apart (15-20 and 36-40) are one when recovery takes longer than the gap.
    comps = [outage([0], 10, 20), outage([1], 15, 30), outage([2], 35, 40), outage([3], 36, 50)]
    assert halts(comps, stakes, honest, 1, 1000.0, 0.0).duration.tolist() == [5.0, 4.0]
    assert halts(comps, stakes, honest, 1, 1000.0, 6.0).duration.tolist() == [11.0, 10.0]
    assert halts(comps, stakes, honest, 1, 1000.0, 20.0).duration.tolist() == [45.0]
    # A group holding n0 and n1 down covers n0's own outage: no stake counted twice.
    found = halts([outage([0], 10, 20), outage([0, 1], 0, 100)], stakes, honest, 1, 1000.0, 0.0)
    assert found.start.tolist() == [0.0] and found.duration.tolist() == [100.0]
    byzantine = np.array([0, 0, 0, 1], bool)  # never counts as live
    assert halts([outage([0], 10, 20)], stakes, byzantine, 1, 1000.0, 0.0).duration.tolist() == [
        10.0
    ]


def test_only_trials_that_can_halt_are_swept() -> None:
    """The pre-check may not drop a trial that halts: compare with every trial forced in."""
    s = scenario(set={"stakes": [30, 10, 10, 10, 5]})
    variant = next(v for v in variants(s) if v.name == "set, one shared provider")
    quick = simulate(variant, 3000, np.random.default_rng(9))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(outages, "_may_halt", lambda _c, _s, _h, trials, _z: np.ones(trials, bool))
        full = simulate(variant, 3000, np.random.default_rng(9))
    assert quick.outages.sum() > 100
    assert np.array_equal(quick.downtime_s, full.downtime_s)


def test_no_losses_without_volatility() -> None:
    s = scenario(exposure={"annual_volatility": 0.0})
    for result in run(s, 2000, seed=3):
        assert result.durations_s.size > 0, result.name  # there were outages to lose on
        assert not result.losses.any(), result.name
    with_volatility = run(scenario(), 2000, seed=3)
    assert any(r.losses.any() for r in with_volatility)


def test_the_same_seed_gives_the_same_numbers() -> None:
    s = scenario(set={"censors": ["n4"]})
    first = [r.summary() for r in run(s, 3000, seed=11)]
    assert first == [r.summary() for r in run(s, 3000, seed=11)]
    assert first != [r.summary() for r in run(s, 3000, seed=12)]


def test_grace_period_lowers_losses() -> None:
    s = scenario()
    graced = replace(s, exposure=replace(s.exposure, oracle_grace_s=3600.0))
    plain, saved = run(s, 3000, seed=5)[0], run(graced, 3000, seed=5)[0]
    assert saved.losses.sum() < plain.losses.sum()


def test_forced_inclusion_bounds_a_censored_transactions_delay() -> None:
    rng = np.random.default_rng(0)
    rules = Protocol(block_time_s=1.0, round_timeout_s=3.0, inclusion_deadline=3)
    bounded = censored_delays(0.3, rules, 1, 100_000, rng)
    assert bounded.max() <= 3 * 1.0 + 1 * 3.0  # deadline heights, then one skipped round
    free = censored_delays(0.3, replace(rules, forced_inclusion=False), 1, 100_000, rng)
    assert free.max() > bounded.max()
    assert np.mean(free) == pytest.approx(0.3 / 0.7, rel=0.05)  # geometric mean
    assert (censored_delays(0.3, rules, 1, 5, rng, escape_delay_s=43200.0) == 43200.0).all()


def test_risk_measures_of_a_known_sample() -> None:
    losses = np.concatenate([np.zeros(90), np.full(9, 10.0), [100.0]])
    found = risk_measures(losses)
    assert found["expected_loss"] == pytest.approx(1.9)
    assert found["cvar_99"] == 100.0
    assert found["cvar_95"] == pytest.approx((4 * 10 + 100) / 5)
    assert found["var_95"] == 10.0


def test_reputation_doubles_the_skip_of_a_down_proposer() -> None:
    # A quarter of the stake proposes every 4 heights; window 50: skips of 50, 100, 200, 400,
    # then 400 heights for good, each followed by one more failed turn.
    heights = np.array([2.0, 4.0, 57.0, 58.0, 162.0, 7200.0])
    assert failed_turns(heights, 0.25, 50).tolist() == [0.5, 1, 1, 2, 3, 20]


@pytest.mark.parametrize(
    ("repair", "shape"), [("exponential", 1.0), ("lognormal", 1.0), ("pareto", 2.5)]
)
def test_every_repair_shape_has_the_configured_mean(repair: str, shape: float) -> None:
    failures = Failures(mtbf_s=86400.0, mttr_s=3600.0, repair=repair, shape=shape)
    draws = repair_times(failures, np.random.default_rng(6), (400_000,))
    error = draws.std() / math.sqrt(len(draws))
    assert abs(draws.mean() - 3600.0) < 5 * error, (draws.mean(), error)
    if repair == "pareto":  # heavy tailed: far more mass beyond ten means than exponential
        assert (draws > 36000).mean() > 100 * math.exp(-10)
