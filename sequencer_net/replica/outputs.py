"""What a replica hands its caller to carry out, in order: sends, timers and reports."""

from __future__ import annotations

from dataclasses import dataclass

from ..evidence import SlashRecord
from ..messages import CommittedBatch, Message
from ..types import Evidence

# A peer as the caller names it: the runtime passes the peer's public key, the simulator an
# instance number in two bytes. The replica only hands it back in its outputs.
PeerId = bytes


@dataclass(frozen=True)
class Send:
    """Send ``message`` to ``to``, or to every peer when ``to`` is None."""

    to: PeerId | None
    message: Message


@dataclass(frozen=True)
class SetTimer:
    """Call :meth:`Replica.on_timer` with ``key`` after ``delay_ms``."""

    key: tuple[object, ...]
    delay_ms: int


@dataclass(frozen=True)
class Committed:
    entry: CommittedBatch


@dataclass(frozen=True)
class EvidenceFound:
    evidence: Evidence


@dataclass(frozen=True)
class Slashed:
    """A committed batch's evidence punished a validator; the runtime logs the record."""

    record: SlashRecord


@dataclass(frozen=True)
class InclusionEnforced:
    """We prevote nil on a proposal because it leaves out transactions overdue here."""

    height: int
    round: int
    proposer: bytes
    omitted: int


@dataclass(frozen=True)
class RoundEntered:
    height: int
    round: int


@dataclass(frozen=True)
class Rejected:
    """A peer sent something invalid; the runtime logs it (and may score the peer)."""

    peer: PeerId | None
    reason: str


Output = (
    Send
    | SetTimer
    | Committed
    | EvidenceFound
    | Slashed
    | InclusionEnforced
    | RoundEntered
    | Rejected
)

REBROADCAST = ("rebroadcast",)
NEXT_HEIGHT = ("next_height",)
SYNC = ("sync",)
GOSSIP = ("gossip",)
