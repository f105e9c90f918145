"""Seeds that once failed, kept as fast regression tests.

Each failed because honest nodes committed one batch with certificates of different rounds and
read leader reputation's failed rounds from their own certificate, so they disagreed on the
proposer schedule (fixed by the canonical last_commit every batch carries)."""

from __future__ import annotations

import pytest

from sequencer_net.sim.runner import simulate
from sequencer_net.sim.scenario import Scenario

CASES = [
    # sequencer-net sim --nodes 4 --twins 1 --partitions --heights 20 --seeds 1 --seed 834
    (Scenario(nodes=4, twins=1, partitions=True, heights=20), 834),
]


@pytest.mark.parametrize(("scenario", "seed"), CASES)
def test_once_failing_seed_keeps_every_invariant(scenario: Scenario, seed: int) -> None:
    result = simulate(scenario, seed)
    assert result.ok, (
        f"seed {seed} of {scenario}: {result.report.violations}; replay with the command above"
    )
