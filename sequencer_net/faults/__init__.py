"""Fault injection: byzantine and unreliable behaviours as a layer between a node's replica
and the wire (``spec`` parses them, ``forge`` signs the lies, ``layer`` rewrites outgoing
sends, ``safety`` checks the fault budget)."""

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from .layer import FaultLayer


def __getattr__(name: str) -> object:
    """The layer (structlog, the replica) loads on first use: commands that only parse
    fault specs or print help start without it."""
    if name == "FaultLayer":
        from .layer import FaultLayer

        return FaultLayer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
