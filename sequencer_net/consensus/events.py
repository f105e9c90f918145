"""What goes into the consensus core (inputs) and what comes out (effects).

The core never signs, sends, sleeps or stores: it asks its caller to, through effects. The
caller signs a :class:`CastVote` or :class:`Propose`, persists its sign state, sends the signed
message and feeds it back in as a :class:`VoteReceived` / :class:`ProposalReceived`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..types import Batch, Certificate, Evidence, Proposal, Step, Vote, VoteKind

# ---- inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProposalReceived:
    """A proposal whose signature the caller checked; ``valid`` is the caller's verdict on the
    batch against its own chain (the paper's ``valid(v)``). ``acceptable`` is its forced-
    inclusion verdict: False makes L22 prevote nil on a fresh proposal, but it is not validity,
    so a value a quorum decides is still decided (L49) and a POL re-proposal still prevoted."""

    proposal: Proposal
    batch: Batch
    valid: bool
    acceptable: bool = True


@dataclass(frozen=True)
class VoteReceived:
    """A vote whose signature the caller checked."""

    vote: Vote


@dataclass(frozen=True)
class TimeoutElapsed:
    step: Step
    height: int
    round: int


@dataclass(frozen=True)
class ValueReady:
    """The batch the caller built in answer to :class:`GetValue`."""

    height: int
    round: int
    batch: Batch


Input = ProposalReceived | VoteReceived | TimeoutElapsed | ValueReady

# ---- effects ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GetValue:
    """We propose this round and hold no valid value: build a fresh batch."""

    height: int
    round: int


@dataclass(frozen=True)
class Propose:
    """Sign and broadcast a proposal of ``batch`` (``pol_round`` -1 for a fresh batch)."""

    height: int
    round: int
    pol_round: int
    batch: Batch


@dataclass(frozen=True)
class CastVote:
    """Sign and broadcast a vote (``value`` None is a vote for nil)."""

    kind: VoteKind
    height: int
    round: int
    value: bytes | None


@dataclass(frozen=True)
class ScheduleTimeout:
    step: Step
    height: int
    round: int
    duration_ms: int


@dataclass(frozen=True)
class Decide:
    """``batch`` is committed at its height, proven by ``certificate``."""

    batch: Batch
    certificate: Certificate


@dataclass(frozen=True)
class ReportEvidence:
    evidence: Evidence


@dataclass(frozen=True)
class RoundStarted:
    """Informational: a new round began (for logs, metrics and the simulator's summary)."""

    height: int
    round: int


Effect = GetValue | Propose | CastVote | ScheduleTimeout | Decide | ReportEvidence | RoundStarted
