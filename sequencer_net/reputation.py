"""Leader reputation: proposers whose recent rounds failed are passed over for a while.

Without it a crashed or censoring proposer costs a timeout at every turn of the rotation. The
rule follows the spirit of Aptos's proposer-and-voter heuristic, reduced to what every node can
derive from committed data alone: a height committed in round r means rounds 0..r-1 failed, and
the proposers of those rounds are known to everyone. A validator that failed a round within the
last ``window`` heights is skipped as proposer, most recent failures first, as long as the
validators still eligible hold more than two thirds of the stake (so at least one honest
proposer remains whatever the failures were). Only who proposes changes; stake, quorums and
the CometBFT priorities do not.
"""

from __future__ import annotations

from collections.abc import Iterable

from .validators import ValidatorSet


def skipped_proposers(
    validators: ValidatorSet, failures: Iterable[tuple[int, bytes]], height: int, window: int
) -> frozenset[bytes]:
    """Who is passed over at ``height``, given (height, proposer) of failed rounds."""
    recent = sorted(
        ((h, key) for h, key in failures if height - window <= h < height),
        key=lambda failure: failure[0],
        reverse=True,
    )
    skipped: set[bytes] = set()
    eligible = validators.total_power
    for _, key in recent:
        power = validators.power_of(key)
        if key in skipped or power == 0:
            continue
        if not validators.is_quorum(eligible - power):
            continue
        skipped.add(key)
        eligible -= power
    return frozenset(skipped)
