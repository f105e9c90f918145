"""Fault injection: byzantine and unreliable behaviours as a layer between a node's replica
and the wire (``spec`` parses them, ``forge`` signs the lies, ``layer`` rewrites outgoing
sends, ``safety`` checks the fault budget)."""

from .layer import FaultLayer
from .safety import unsafe_faults
from .spec import (
    ACCEPTED,
    BEHAVIOURS,
    Amnesia,
    Censor,
    Crash,
    Delay,
    Drop,
    Equivocate,
    Fault,
    FaultSpecError,
    Garbage,
    Mute,
    Withhold,
    check_behaviour,
    parse_fault,
)

__all__ = [
    "ACCEPTED",
    "BEHAVIOURS",
    "Amnesia",
    "Censor",
    "Crash",
    "Delay",
    "Drop",
    "Equivocate",
    "Fault",
    "FaultLayer",
    "FaultSpecError",
    "Garbage",
    "Mute",
    "Withhold",
    "check_behaviour",
    "parse_fault",
    "unsafe_faults",
]
