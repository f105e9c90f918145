"""The consensus core: a pure Tendermint state machine (no sockets, no clock, no trio)."""

from .config import ConsensusConfig, Timeouts
from .driver import Driver
from .events import (
    CastVote,
    Decide,
    Effect,
    GetValue,
    Input,
    ProposalReceived,
    Propose,
    ReportEvidence,
    RoundStarted,
    ScheduleTimeout,
    TimeoutElapsed,
    ValueReady,
    VoteReceived,
)
from .machine import HeightMachine, LockState

__all__ = [
    "CastVote",
    "ConsensusConfig",
    "Decide",
    "Driver",
    "Effect",
    "GetValue",
    "HeightMachine",
    "Input",
    "LockState",
    "ProposalReceived",
    "Propose",
    "ReportEvidence",
    "RoundStarted",
    "ScheduleTimeout",
    "TimeoutElapsed",
    "Timeouts",
    "ValueReady",
    "VoteReceived",
]
