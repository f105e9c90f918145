"""Stake-proportional share counts and the decryption threshold.

Validator ``i`` of stake ``s_i`` (of ``S`` in all) gets ``k_i`` of ``N = SHARES_PER_VALIDATOR *
n`` shares by the largest-remainder method, so ``|k_i - s_i N / S| < 1``. The threshold is
``t = floor(N / 2) + 1``. A coalition below a third of the stake holds fewer than
``N / 3 + |C| <= N / 2`` shares (``|C| <= n <= N / 6``), so fewer than ``t``; a set above two
thirds holds more than ``2 N / 3 - |H| >= N / 2``, so at least ``t``. ``docs/private.md``
spells the argument out.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

SHARES_PER_VALIDATOR = 6  # N >= 6 n is what the rounding argument needs


def share_counts(stakes: Sequence[int]) -> list[int]:
    """Each validator's share count, proportional to its stake, summing to ``6 * n``."""
    if not stakes or any(s <= 0 for s in stakes):
        raise ValueError("every validator needs a positive stake")
    total_shares = SHARES_PER_VALIDATOR * len(stakes)
    total_stake = sum(stakes)
    quotas = [Fraction(s * total_shares, total_stake) for s in stakes]
    counts = [int(q) for q in quotas]
    left = total_shares - sum(counts)
    by_remainder = sorted(range(len(stakes)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in by_remainder[:left]:
        counts[i] += 1
    return counts


def threshold_for(total_shares: int) -> int:
    """Shares needed to decrypt: a strict majority of all shares."""
    return total_shares // 2 + 1
