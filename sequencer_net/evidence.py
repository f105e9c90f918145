"""The evidence pool: equivocation seen but not yet committed, and the rules it must pass.

Evidence reaches a node from its own vote keeper, from a peer's gossip, or inside a proposed
batch. Every path runs the same :func:`evidence_problem` check, so a batch is valid only if each
of its evidence pieces would also be accepted from gossip. Once a batch carrying evidence
commits, the offender is jailed (tombstoned: there is no unjailing), so any later evidence
against that key is refused: the same offence is never punished twice, also after a restart,
because the jailed flag lives in the stored validator-set history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import codec
from .types import MAX_EVIDENCE_PER_BATCH, EarlyRelease, Evidence, evidence_id
from .validators import ValidatorSet

MAX_PENDING_EVIDENCE = 1_000


@codec.register(34)
@dataclass(frozen=True)
class SlashRecord:
    """What committing one piece of evidence did: stored with the batch, logged to
    ``evidence.jsonl``. ``timestamp_ms`` is the committing batch's, so every node's record
    is identical."""

    evidence: Evidence
    committed_height: int
    timestamp_ms: int
    stake_before: int
    stake_after: int
    reporter: bytes  # the proposer whose batch carried the evidence

    @property
    def id(self) -> bytes:
        return evidence_id(self.evidence)


def evidence_problem(
    evidence: Evidence,
    chain_id: str,
    validators: ValidatorSet,
    height: int,
    max_age: int,
    leak_problem: Callable[[Evidence], str | None] | None = None,
) -> str | None:
    """Why ``evidence`` may not be applied while deciding ``height`` under ``validators``.

    Being active in the current set implies being in the set at the evidence's height: sets
    change only by jailing, which is permanent."""
    offender = validators.get(evidence.offender)
    if offender is None:
        return "offender is not a validator"
    if offender.jailed:
        return f"offender {offender.name!r} is already jailed"
    if not offender.active:
        return f"offender {offender.name!r} has no stake"
    if evidence.height > height:
        return f"evidence from height {evidence.height}, ahead of {height}"
    if height - evidence.height > max_age:
        return f"evidence from height {evidence.height} is older than {max_age} heights"
    if not evidence.verify(chain_id):
        return "evidence signature does not verify"
    if isinstance(evidence, EarlyRelease):
        # Judged against the chain (replica/decryption.py); without it, never accepted.
        return leak_problem(evidence) if leak_problem else "early release needs the chain"
    return None


class EvidencePool:
    """Verified evidence waiting for a batch, oldest first, at most one piece per offender
    in any batch."""

    def __init__(self) -> None:
        self._pending: dict[bytes, Evidence] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, evidence: Evidence) -> bool:
        return evidence_id(evidence) in self._pending

    def add(self, evidence: Evidence) -> bool:
        """Keep ``evidence`` (already checked); False if it was known or the pool is full."""
        key = evidence_id(evidence)
        if key in self._pending or len(self._pending) >= MAX_PENDING_EVIDENCE:
            return False
        self._pending[key] = evidence
        return True

    def pending(self) -> list[Evidence]:
        return list(self._pending.values())

    def select(self) -> tuple[Evidence, ...]:
        """Evidence for the next batch: the oldest piece against each offender."""
        chosen: dict[bytes, Evidence] = {}
        for evidence in sorted(self._pending.values(), key=lambda e: e.height):
            chosen.setdefault(evidence.offender, evidence)
        return tuple(chosen.values())[:MAX_EVIDENCE_PER_BATCH]

    def prune(self, keep: Callable[[Evidence], bool]) -> None:
        """Drop every piece for which ``keep(evidence)`` is false (expired, or its offender
        jailed)."""
        self._pending = {k: e for k, e in self._pending.items() if keep(e)}
