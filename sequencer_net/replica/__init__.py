"""One validator's node logic: the piece the simulator and the real node both drive.

A :class:`Replica` turns peer messages, client transactions and timer expiries into outputs
(messages to send, timers to set, commits to report), in order. It opens no socket and reads
no clock (the caller passes ``now_ms`` in and carries the outputs out), but it does I/O through
the two stores it is given: it reads and appends to the chain store (SQLite in the real node)
and saves its sign-state record (an fsync'd file in the real node) before any signature it
makes leaves it. The simulator gives it in-memory stores.
"""

from .chainstate import ChainState, advance, genesis_state
from .core import CHECKPOINT_EVERY, Replica
from .inbox import MAX_BUFFERED_PROPOSALS, MAX_ROUNDS_AHEAD
from .outputs import (
    CHUNK,
    FETCH,
    NEXT_HEIGHT,
    REBROADCAST,
    SYNC,
    Committed,
    Decrypted,
    EvidenceFound,
    InclusionEnforced,
    Output,
    PeerId,
    Rejected,
    RoundEntered,
    Send,
    SetTimer,
    Slashed,
    StepTimeout,
    Tick,
    TimerKey,
)
from .validity import GENESIS_PARENT, ChainView

__all__ = [
    "CHECKPOINT_EVERY",
    "CHUNK",
    "FETCH",
    "GENESIS_PARENT",
    "MAX_BUFFERED_PROPOSALS",
    "MAX_ROUNDS_AHEAD",
    "NEXT_HEIGHT",
    "REBROADCAST",
    "SYNC",
    "ChainState",
    "ChainView",
    "Committed",
    "Decrypted",
    "EvidenceFound",
    "InclusionEnforced",
    "Output",
    "PeerId",
    "Rejected",
    "Replica",
    "RoundEntered",
    "Send",
    "SetTimer",
    "Slashed",
    "StepTimeout",
    "Tick",
    "TimerKey",
    "advance",
    "genesis_state",
]
