"""What a replica hands its caller to carry out, in order: sends, timers and reports."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..evidence import SlashRecord
from ..messages import CommittedBatch, Message
from ..types import Evidence, Step

# A peer as the caller names it: the runtime passes the peer's public key, the simulator an
# instance number in two bytes. The replica only hands it back in its outputs.
PeerId = bytes


@dataclass(frozen=True)
class Send:
    """Send ``message`` to ``to``, or to every peer when ``to`` is None."""

    to: PeerId | None
    message: Message


class Tick(Enum):
    """The replica's own periodic or deferred work."""

    REBROADCAST = "rebroadcast"
    NEXT_HEIGHT = "next_height"  # the first effects of a height just started
    SYNC = "sync"
    CHUNK = "chunk"  # this node's lane packs its buffered transactions
    FETCH = "fetch"  # ask again for chunks a committed batch orders that we lack
    DECRYPT = "decrypt"  # a slice of the post-commit decryption work (replica/decryption.py)


@dataclass(frozen=True)
class StepTimeout:
    """A consensus core timeout: ``step`` of (``height``, ``round``) took too long."""

    step: Step
    height: int
    round: int


TimerKey = Tick | StepTimeout


@dataclass(frozen=True)
class SetTimer:
    """Call :meth:`Replica.on_timer` with ``key`` after ``delay_ms``."""

    key: TimerKey
    delay_ms: int


@dataclass(frozen=True)
class Decrypted:
    """The encrypted transactions of a committed height, decrypted: per id in committed
    order, the plaintext, or None for a failed decryption (the same on every node)."""

    height: int
    results: tuple[tuple[bytes, bytes | None], ...]


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
    | Decrypted
)

REBROADCAST = Tick.REBROADCAST
NEXT_HEIGHT = Tick.NEXT_HEIGHT
SYNC = Tick.SYNC
CHUNK = Tick.CHUNK
FETCH = Tick.FETCH
DECRYPT = Tick.DECRYPT
