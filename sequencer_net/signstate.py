"""Double-sign protection: the record of the last thing this validator signed.

A validator signs at most one proposal per (height, round) and one vote per (height, round,
step). The guard compares every new signing request with the record: a later (height, round,
step) may be signed; the same one only if the payload is identical (then the old signature is
reused); anything earlier is refused. The caller persists the record durably *before* the
signature leaves the process, so a crash cannot make it forget.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from . import codec
from .consensus.machine import LockState
from .types import Step


@codec.register(30)
@dataclass(frozen=True)
class SignRecord:
    """The last signature and, for the same height, the round/lock state to restore."""

    height: int
    round: int
    step: Step
    payload: bytes
    signature: bytes
    lock: LockState


class Verdict(enum.Enum):
    SIGN = "sign"
    REUSE = "reuse"
    REFUSE = "refuse"


def check(
    record: SignRecord | None, height: int, round: int, step: Step, payload: bytes
) -> Verdict:
    if record is None:
        return Verdict.SIGN
    new, last = (height, round, step), (record.height, record.round, record.step)
    if new > last:
        return Verdict.SIGN
    if new == last and payload == record.payload:
        return Verdict.REUSE
    return Verdict.REFUSE
