"""Consensus parameters shared by every validator of a chain."""

from __future__ import annotations

from dataclasses import dataclass

from ..types import Step


@dataclass(frozen=True)
class Timeouts:
    """Per-step timeouts in milliseconds; each grows linearly with the round so that, after
    the network stabilises, some round is long enough for every honest message to arrive."""

    propose_ms: int = 1000
    propose_delta_ms: int = 500
    prevote_ms: int = 500
    prevote_delta_ms: int = 250
    precommit_ms: int = 500
    precommit_delta_ms: int = 250

    def __post_init__(self) -> None:
        if min(self.propose_ms, self.prevote_ms, self.precommit_ms) <= 0:
            raise ValueError("timeouts must be positive")
        if min(self.propose_delta_ms, self.prevote_delta_ms, self.precommit_delta_ms) < 0:
            raise ValueError("timeout deltas must not be negative")

    def duration_ms(self, step: Step, round: int) -> int:
        base, delta = {
            Step.PROPOSE: (self.propose_ms, self.propose_delta_ms),
            Step.PREVOTE: (self.prevote_ms, self.prevote_delta_ms),
            Step.PRECOMMIT: (self.precommit_ms, self.precommit_delta_ms),
        }[step]
        return base + round * delta


@dataclass(frozen=True)
class ConsensusConfig:
    chain_id: str
    timeouts: Timeouts = Timeouts()
    # Messages for rounds further ahead than this are dropped, so one faulty validator cannot
    # make a node keep state for unboundedly many rounds.
    max_round_skew: int = 1000
