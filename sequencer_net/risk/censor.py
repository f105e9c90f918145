"""How long a censored transaction waits: heights go by until an honest proposer's turn
(proposers drawn by stake, independently per height). With forced inclusion, once the
transaction is ``inclusion_deadline`` heights old honest nodes refuse proposals without it, so
each further censoring proposer costs a failed round instead of a block; leader reputation
then skips a censor whose round failed for ``reputation_window`` heights, far longer than
the wait, so each censor costs at most one failed round. A lone sequencer that censors
is only bypassed by the L1 forced-inclusion delay."""

from __future__ import annotations

import numpy as np

from .scenario import Protocol


def censored_delays(
    censor_share: float,
    protocol: Protocol,
    censors: int,
    trials: int,
    rng: np.random.Generator,
    escape_delay_s: float | None = None,
) -> np.ndarray:
    """Extra seconds before inclusion, one per trial. ``escape_delay_s`` given: a single
    sequencer that censors everything until the L1 escape hatch."""
    if escape_delay_s is not None:
        return np.full(trials, escape_delay_s)
    if censor_share <= 0:
        return np.zeros(trials)
    # Censoring heights before the first honest proposer (>= 0).
    censored = rng.geometric(1 - censor_share, trials) - 1
    if not protocol.forced_inclusion:
        return censored * protocol.block_time_s
    deadline = protocol.inclusion_deadline
    failed = np.maximum(censored - deadline, 0)
    if protocol.reputation:
        failed = np.minimum(failed, censors)
    return (
        np.minimum(censored, deadline) * protocol.block_time_s + failed * protocol.round_timeout_s
    )
