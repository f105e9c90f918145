"""Stake tallies for one height's votes, with equivocation detection as a side effect.

A repeated identical vote is ignored. A second, *different* vote from one validator for the same
(round, kind) is equivocation: it comes back as evidence carrying both signed votes, and it is
also counted for its own value. Counting an equivocator for every value it signed is safe (two
quorums for different values in one round would still need an honest validator to vote twice)
and it is needed for liveness: a lock an honest node took using an equivocator's vote must be
provable to the others, whichever of the equivocator's votes reached them first (CometBFT
solves the same problem with its "peer maj23" vote tracking). The "any value" totals count each
validator once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..types import Evidence, Vote, VoteKind, make_evidence
from ..validators import ValidatorSet

# An equivocator's conflicting votes are counted up to this many values per (round, kind), so
# one key cannot make a node store unboundedly many votes.
MAX_VALUES_PER_VALIDATOR = 8


@dataclass
class _Tally:
    """Every distinct vote per validator and the stake behind each value."""

    votes: dict[bytes, list[Vote]] = field(default_factory=dict)
    power: dict[bytes | None, int] = field(default_factory=dict)
    total: int = 0


@dataclass(frozen=True)
class AddResult:
    counted: bool
    evidence: Evidence | None = None


class VoteKeeper:
    def __init__(self, height: int, validators: ValidatorSet) -> None:
        self.height = height
        self.validators = validators
        self._tallies: dict[tuple[int, VoteKind], _Tally] = {}
        self._senders: dict[int, set[bytes]] = {}

    def add(self, vote: Vote) -> AddResult:
        """Count ``vote`` unless it is from a non-member, another height, or a repeat."""
        power = self.validators.power_of(vote.validator)
        if vote.height != self.height or power == 0:
            return AddResult(counted=False)
        tally = self._tallies.setdefault((vote.round, vote.kind), _Tally())
        earlier = tally.votes.setdefault(vote.validator, [])
        if any(e.value == vote.value for e in earlier):
            return AddResult(counted=False)
        evidence = make_evidence(earlier[0], vote) if earlier else None
        if len(earlier) >= MAX_VALUES_PER_VALIDATOR:
            return AddResult(counted=False, evidence=evidence)
        if not earlier:
            tally.total += power
        earlier.append(vote)
        tally.power[vote.value] = tally.power.get(vote.value, 0) + power
        self.note_sender(vote.round, vote.validator)
        return AddResult(counted=True, evidence=evidence)

    def note_sender(self, round: int, validator: bytes) -> None:
        """Record that ``validator`` sent some message in ``round`` (for the L55 round skip)."""
        self._senders.setdefault(round, set()).add(validator)

    def sender_power(self, round: int) -> int:
        return sum(self.validators.power_of(v) for v in self._senders.get(round, ()))

    def rounds_seen(self) -> list[int]:
        return sorted(self._senders)

    def power_for(self, round: int, kind: VoteKind, value: bytes | None) -> int:
        tally = self._tallies.get((round, kind))
        return tally.power.get(value, 0) if tally else 0

    def total(self, round: int, kind: VoteKind) -> int:
        tally = self._tallies.get((round, kind))
        return tally.total if tally else 0

    def has_quorum_for(self, round: int, kind: VoteKind, value: bytes | None) -> bool:
        return self.validators.is_quorum(self.power_for(round, kind, value))

    def has_quorum_of_any(self, round: int, kind: VoteKind) -> bool:
        return self.validators.is_quorum(self.total(round, kind))

    def quorum_values(self, kind: VoteKind) -> list[tuple[int, bytes]]:
        """(round, value) pairs, value not nil, that hold a quorum of ``kind`` votes."""
        return [
            (round, value)
            for (round, k), tally in sorted(self._tallies.items())
            if k == kind
            for value, power in tally.power.items()
            if value is not None and self.validators.is_quorum(power)
        ]

    def ballots(self, round: int, kind: VoteKind) -> dict[bytes, list[Vote]]:
        """Every counted vote of (``round``, ``kind``) by validator; an equivocator has more
        than one. A copy: the caller cannot change the tally."""
        tally = self._tallies.get((round, kind))
        return {k: list(v) for k, v in tally.votes.items()} if tally else {}

    def votes_for(self, round: int, kind: VoteKind, value: bytes | None) -> list[Vote]:
        tally = self._tallies.get((round, kind))
        if tally is None:
            return []
        return [v for votes in tally.votes.values() for v in votes if v.value == value]
