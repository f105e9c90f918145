"""Leader reputation: proposers whose recent rounds failed are passed over for a while.

Without it a crashed or censoring proposer costs a timeout at every turn of the rotation. The
rule follows the spirit of Aptos's proposer-and-voter heuristic, reduced to what every node can
derive from committed data alone: a height committed in round r means rounds 0..r-1 failed, and
the proposers of those rounds are known to everyone. A validator whose latest failure is recent
is skipped as proposer: for ``window`` heights after a first failure, twice that after a second
within the memory (:data:`MEMORY` windows), and so on up to the whole memory, so a crashed
proposer costs one timeout per ever longer stretch rather than one per turn. Validators are
skipped most recent failure first, as long as the validators still eligible hold more than two
thirds of the stake (so at least one honest proposer remains whatever the failures were). Only
who proposes changes; stake, quorums and the CometBFT priorities do not.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from .validators import ValidatorSet

MEMORY = 8  # windows of failure history kept; the longest skip is the whole memory


def memory(window: int) -> int:
    """Heights of failure history that count at a height."""
    return MEMORY * window


def skipped_proposers(
    validators: ValidatorSet, failures: Iterable[tuple[int, bytes]], height: int, window: int
) -> frozenset[bytes]:
    """Who is passed over at ``height``, given (height, proposer) of failed rounds."""
    history: defaultdict[bytes, list[int]] = defaultdict(list)
    for h, key in failures:
        if height - memory(window) <= h < height:
            history[key].append(h)
    serving = []
    for key, heights in history.items():
        latest, count = max(heights), len(heights)
        if height - latest <= min(window << (count - 1), memory(window)):
            serving.append((latest, key))
    skipped: set[bytes] = set()
    eligible = validators.total_power
    for _, key in sorted(serving, reverse=True):
        power = validators.power_of(key)
        if power == 0 or not validators.is_quorum(eligible - power):
            continue
        skipped.add(key)
        eligible -= power
    return frozenset(skipped)
