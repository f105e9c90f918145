"""Seeds that once failed, kept as fast regression tests.

834 failed because honest nodes committed one batch with certificates of different rounds and
read leader reputation's failed rounds from their own certificate, so they disagreed on the
proposer schedule (fixed by the canonical last_commit every batch carries).

2 and 23 (with a crash, loss and duplicates) halted for good after GST while a rule let a node
precommit nil in the prevote step as soon as no value could reach a quorum; together with the
next-round-at-once rule for nil-precommit quorums the three honest nodes left after the twin's
jailing never met in one round again (the rule was removed).

119 (weighted seven with a twin and a crash) left the restarted node at height 5 for good: on
restart it rebuilt the last height's validator set with the failures that height's own batch
recorded (of the height below), which that set was decided without, so its proposer schedule
differed and it refused every sync entry as "not the proposer of its round".

3 and 14 (loss and duplicates, no adversary) broke the lane books: a node fetched a chunk a
decided batch ordered, the author's stream brought it too, and a second answer to the fetch
(a duplicate, or one to the retry) held it again after the commit, as uncommitted for good
(its transactions pending and its bytes in the author's share forever)."""

from __future__ import annotations

import pytest

from sequencer_net.sim.runner import simulate
from sequencer_net.sim.scenario import Scenario

LOSSY_WITH_A_CRASH = Scenario(
    nodes=4, twins=1, crash=1, drop=0.1, duplicate=0.1, partitions=True, heights=20
)
WEIGHTED_SEVEN_WITH_A_CRASH = Scenario(
    nodes=7,
    stakes=(20, 20, 15, 10, 10, 5, 5),
    twins=1,
    crash=1,
    drop=0.05,
    partitions=True,
    heights=20,
)
LOSSY = Scenario(nodes=4, drop=0.1, duplicate=0.1, heights=20)
CASES = [
    # sequencer-net sim --nodes 4 --twins 1 --partitions --heights 20 --seeds 1 --seed 834
    (Scenario(nodes=4, twins=1, partitions=True, heights=20), 834),
    # sequencer-net sim --nodes 4 --twins 1 --crash 1 --drop 0.1 --duplicate 0.1 --partitions
    #   --heights 20 --seeds 1 --seed 2   (and --seed 23)
    *((LOSSY_WITH_A_CRASH, seed) for seed in (2, 23)),
    # sequencer-net sim --nodes 7 --stake 20,20,15,10,10,5,5 --twins 1 --crash 1 --drop 0.05
    #   --partitions --heights 20 --seeds 1 --seed 119
    (WEIGHTED_SEVEN_WITH_A_CRASH, 119),
    # sequencer-net sim --nodes 4 --drop 0.1 --duplicate 0.1 --heights 20 --seeds 1 --seed 3
    #   (and --seed 14)
    *((LOSSY, seed) for seed in (3, 14)),
]


@pytest.mark.parametrize(("scenario", "seed"), CASES)
def test_once_failing_seed_keeps_every_invariant(scenario: Scenario, seed: int) -> None:
    result = simulate(scenario, seed)
    assert result.ok, (
        f"seed {seed} of {scenario}: {result.report.violations}; replay with the command above"
    )
