"""The stake-weighted validator set: quorum math, proposer selection, slashing and the set hash.

Proposer selection is CometBFT's weighted round robin (``types/validator_set.go``), reproduced
step for step so that every node, and anyone replaying the chain, derives the same proposer for
every (height, round): each active validator carries a *proposer priority*; one increment adds
each validator's power to its priority, picks the highest priority (ties go to the smaller public
key) and charges the pick the total power. Over any window a validator proposes in proportion to
its stake.

Priorities are kept only for the active validators (not jailed, power > 0), in public-key order.
Python integers do not overflow, so Go's ``safeAddClip``/``safeSubClip`` clipping is not
emulated: with CometBFT's bound on total power it never triggers there either, so results agree.

Sets are immutable: :meth:`ValidatorSet.next_height` and :meth:`ValidatorSet.slash` return new sets.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from . import codec
from .crypto import PUBLIC_KEY_SIZE, digest
from .types import MAX_VALIDATORS, Certificate

PRIORITY_WINDOW_FACTOR = 2  # CometBFT's PriorityWindowSizeFactor: spread kept within 2 * total
PPM = 1_000_000
# CometBFT's MaxTotalVotingPower (int64 max / 8): priorities and their sums stay in 64 bits,
# which the wire and the stores encode.
MAX_TOTAL_POWER = 2**60
MAX_WALK = 1_000_000  # increments a proposer schedule may take to repeat (~4 s at worst)


@codec.register(32)
@dataclass(frozen=True)
class Validator:
    """One sequencer: its key (also its address for tie-breaks), stake, and whether it is jailed."""

    name: str
    public_key: bytes
    power: int
    jailed: bool = False

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("validator name must not be empty")
        if not isinstance(self.public_key, bytes) or len(self.public_key) != PUBLIC_KEY_SIZE:
            raise ValueError(f"validator {self.name!r}: public key must be {PUBLIC_KEY_SIZE} bytes")
        if self.power < 0:
            raise ValueError(f"validator {self.name!r}: power must be >= 0, got {self.power}")

    @property
    def active(self) -> bool:
        return not self.jailed and self.power > 0


@codec.register(33)
@dataclass(frozen=True)
class ValidatorSetSnapshot:
    """Enough to rebuild a set exactly: its validators and the priorities it was derived from
    (before the increment that fixed its round-0 proposer). Stored as validator-set history."""

    validators: tuple[Validator, ...]
    basis: tuple[int, ...]


def _trunc_div(a: int, b: int) -> int:
    """Go's ``a / b`` for b > 0: truncates toward zero, unlike Python's ``//``."""
    return a // b if a >= 0 else -(-a // b)


def _rescale(priorities: list[int], diff_max: int) -> None:
    """CometBFT RescalePriorities: squeeze the spread back under ``diff_max``."""
    diff = max(priorities) - min(priorities)
    if diff > diff_max:
        ratio = -(-diff // diff_max)  # ceil(diff / diff_max)
        priorities[:] = [_trunc_div(p, ratio) for p in priorities]


def _shift_by_average(priorities: list[int]) -> None:
    """CometBFT shiftByAvgProposerPriority: centre priorities on zero so they cannot drift.

    Go's big.Int.Div is Euclidean division, which for a positive divisor is Python's ``//``."""
    average = sum(priorities) // len(priorities)
    priorities[:] = [p - average for p in priorities]


def _step(priorities: list[int], powers: Sequence[int], total: int) -> int:
    """One CometBFT incrementProposerPriority: returns the index of the validator picked.

    Indices follow public-key order, so the first maximum is the one with the smaller key."""
    for i, power in enumerate(powers):
        priorities[i] += power
    picked = max(range(len(priorities)), key=lambda i: (priorities[i], -i))
    priorities[picked] -= total
    return picked


class RoundTooFar(ValueError):
    """A round whose proposer would take more than :data:`MAX_WALK` steps to find."""


class _RoundWalk:
    """The CometBFT proposer of every round at one height, walked once and shared by the set
    and its :meth:`ValidatorSet.skipping` views.

    Round r > 0 is r increments from the rescaled round-0 priorities; each step depends only
    on the priority vector, so once a vector repeats the schedule is periodic from there on.
    It does repeat: a step keeps the sum, a priority only grows while it is not the largest
    and drops by the total when it is, so each stays in a bounded band, and integer vectors
    in a bounded box are finitely many. The period is a multiple of total / gcd(powers)
    (each priority moves by its power mod total per step), so small for the usual stakes.
    Repeats are found Brent-style, comparing with a checkpoint renewed at every power of
    two, which finds a cycle within a small multiple of its start plus its length. So the
    work for any round is at most what it takes to detect the cycle, capped at
    :data:`MAX_WALK` steps, and each round costs O(1) amortised when rounds are asked in order."""

    def __init__(self, priorities: list[int], powers: list[int], total: int, first: int) -> None:
        self._powers = powers
        self._total = total
        self._state = list(priorities)
        _prepare(self._state, total)
        self.picks = [first]  # picks[r]: index of round r's proposer among the active
        self._checkpoint: tuple[tuple[int, ...], int] = (tuple(self._state), 1)
        self.cycle: tuple[int, int] | None = None  # (first round of the cycle, its length)
        self.steps = 0  # increments computed so far, for tests of the bound

    def pick(self, round: int) -> int:
        while self.cycle is None and len(self.picks) <= round:
            self._advance()
        if self.cycle is not None and round >= len(self.picks):
            start, length = self.cycle
            round = start + (round - start) % length
        return self.picks[round]

    def _advance(self) -> None:
        if self.steps >= MAX_WALK:
            raise RoundTooFar(f"proposer schedule does not repeat within {MAX_WALK} rounds")
        self.picks.append(_step(self._state, self._powers, self._total))
        self.steps += 1
        state, known_at = tuple(self._state), len(self.picks)
        seen, seen_at = self._checkpoint
        if state == seen:
            # The vector before round seen_at recurs before round known_at: rounds repeat.
            self.cycle = (seen_at, known_at - seen_at)
        elif known_at & (known_at - 1) == 0:
            self._checkpoint = (state, known_at)


class _Eligible:
    """The rounds of a :class:`_RoundWalk` whose proposer is eligible (not skipped), in order;
    periodic with the walk, so also bounded in the round asked for."""

    def __init__(self, walk: _RoundWalk, eligible: list[int]) -> None:
        self._walk = walk
        self._eligible = frozenset(eligible)
        self._picks: list[int] = []  # eligible picks of rounds 0.. _examined - 1
        self._examined = 0
        self._period: tuple[int, list[int]] | None = None  # (index of the first, picks)

    def pick(self, round: int) -> int:
        picks = self._picks
        while self._period is None and len(picks) <= round:
            walk = self._walk
            candidate = walk.pick(self._examined)
            if walk.cycle is not None and self._examined == sum(walk.cycle):
                first = sum(1 for p in walk.picks[: walk.cycle[0]] if p in self._eligible)
                self._period = (first, picks[first:])
                break
            self._examined += 1
            if candidate in self._eligible:
                picks.append(candidate)
        if round < len(picks):
            return picks[round]
        assert self._period is not None
        first, pattern = self._period
        return pattern[(round - first) % len(pattern)]


def _refuse_duplicates(what: str, values: list[str]) -> None:
    duplicates = sorted(x for x, n in Counter(values).items() if n > 1)
    if duplicates:
        raise ValueError(f"duplicate validator {what}: {', '.join(duplicates)}")


def _prepare(priorities: list[int], total: int) -> None:
    """The rescale and shift that open every IncrementProposerPriority."""
    _rescale(priorities, PRIORITY_WINDOW_FACTOR * total)
    _shift_by_average(priorities)


class ValidatorSet:
    """The validator set of one height, with its proposer priorities. Immutable."""

    validators: tuple[Validator, ...]
    active: tuple[Validator, ...]
    total_power: int

    def __init__(self, validators: Iterable[Validator]) -> None:
        """Genesis, as CometBFT NewValidatorSet: everyone starts equal, then one increment."""
        ordered = tuple(sorted(validators, key=lambda v: v.public_key))
        _refuse_duplicates("public key", [v.public_key.hex() for v in ordered])
        _refuse_duplicates("name", [v.name for v in ordered])
        if len(ordered) > MAX_VALIDATORS:
            raise ValueError(f"at most {MAX_VALIDATORS} validators, got {len(ordered)}")
        total = sum(v.power for v in ordered if v.active)
        if total <= 0:
            raise ValueError("validator set has no active validator (all jailed or zero power)")
        if sum(v.power for v in ordered) > MAX_TOTAL_POWER:
            raise ValueError(f"the stakes add up to more than {MAX_TOTAL_POWER} (2**60)")
        # New validators start at -(T + T/8) (CometBFT computeNewPriorities). The rescale and
        # shift CometBFT runs after an update are left to the increment, which opens with the
        # same two steps; running them twice changes nothing. Everyone equal: all start at 0.
        priorities = [-(total + (total >> 3))] * sum(v.active for v in ordered)
        self._advance_from(ordered, priorities)

    def _advance_from(self, validators: tuple[Validator, ...], priorities: list[int]) -> None:
        """Fill in this set from ``validators`` after IncrementProposerPriority(1) on ``priorities``
        (given in active public-key order), which fixes the round-0 proposer."""
        self._basis = tuple(priorities)
        self.validators = validators
        self.active = tuple(v for v in validators if v.active)
        self.total_power = sum(v.power for v in self.active)
        self._by_key = {v.public_key: v for v in validators}
        powers = [v.power for v in self.active]
        _prepare(priorities, self.total_power)
        picked = _step(priorities, powers, self.total_power)
        self._priorities = tuple(priorities)
        self._walk = _RoundWalk(priorities, powers, self.total_power, picked)
        self._skipped: frozenset[bytes] = frozenset()
        self._eligible: _Eligible | None = None

    @classmethod
    def _derived(cls, validators: tuple[Validator, ...], priorities: list[int]) -> ValidatorSet:
        """A successor set: no genesis priorities, just the given ones incremented once."""
        successor = cls.__new__(cls)
        successor._advance_from(validators, priorities)
        return successor

    @classmethod
    def restore(cls, snapshot: ValidatorSetSnapshot) -> ValidatorSet:
        """The set :meth:`snapshot` was taken of, proposer priorities included."""
        return cls._derived(snapshot.validators, list(snapshot.basis))

    def snapshot(self) -> ValidatorSetSnapshot:
        return ValidatorSetSnapshot(self.validators, self._basis)

    def get(self, public_key: bytes) -> Validator | None:
        return self._by_key.get(public_key)

    def power_of(self, public_key: bytes) -> int:
        """Voting power that counts towards quorums: 0 for unknown or jailed keys."""
        validator = self._by_key.get(public_key)
        return validator.power if validator is not None and validator.active else 0

    def __contains__(self, public_key: object) -> bool:
        return isinstance(public_key, bytes) and self.power_of(public_key) > 0

    def is_quorum(self, power: int) -> bool:
        """More than 2/3 of the total power, in integers so no rounding can admit a minority."""
        return 3 * power > 2 * self.total_power

    def is_third(self, power: int) -> bool:
        """More than 1/3 of the total power: at least one honest validator is among them."""
        return 3 * power > self.total_power

    @property
    def proposer(self) -> Validator:
        """The proposer of round 0 at this set's height."""
        return self.active[self._walk.picks[0]]

    def skipping(self, proposers: frozenset[bytes]) -> ValidatorSet:
        """This set with ``proposers`` passed over when choosing who proposes (leader
        reputation): round r goes to the r-th validator of CometBFT's sequence not skipped.
        Stake, quorums and the set hash are unchanged; so is the next height's set.

        The caller must leave at least one active validator eligible."""
        if not any(v.public_key not in proposers for v in self.active):
            raise ValueError("cannot skip every active validator as proposer")
        view = copy.copy(self)
        view._skipped = frozenset(proposers)
        view._eligible = _Eligible(
            self._walk, [i for i, v in enumerate(self.active) if v.public_key not in view._skipped]
        )
        return view

    @property
    def skipped(self) -> frozenset[bytes]:
        return self._skipped

    def proposer_for_round(self, round: int) -> Validator:
        """The proposer for ``round``: CometBFT's (this set after IncrementProposerPriority
        (round)), or with skipped proposers the ``round``-th eligible one of that sequence.

        Bounded in ``round``: see :class:`_RoundWalk`; raises :class:`RoundTooFar` only for a
        round beyond :data:`MAX_WALK` steps when the schedule has not repeated by then."""
        if round < 0:
            raise ValueError(f"round must be >= 0, got {round}")
        if self._eligible is None:
            return self.active[self._walk.pick(round)]
        return self.active[self._eligible.pick(round)]

    def next_height(self) -> ValidatorSet:
        """The set for the next height: same validators, priorities incremented once."""
        return self._derived(self.validators, list(self._priorities))

    @cached_property
    def hash(self) -> bytes:
        """Commits to who may vote and with what weight; priorities are derived, so left out."""
        return digest(codec.encode([[v.public_key, v.power] for v in self.active]))

    def slash(self, public_key: bytes, fraction_ppm: int) -> ValidatorSet:
        """:meth:`punish` one validator."""
        return self.punish([public_key], fraction_ppm)

    def punish(self, offenders: Sequence[bytes], fraction_ppm: int) -> ValidatorSet:
        """The set for the next height after punishing each of ``offenders``: power cut by
        ``fraction_ppm`` parts per million (at least 1 when both are positive) and jailed.

        As CometBFT after a validator update: the others keep their priorities, which are
        rescaled and re-centred for the new total, then incremented once for the next height.
        So use the result *instead of* :meth:`next_height`, not before it. Punishing an
        already-jailed validator cuts its power again.
        """
        if not 0 <= fraction_ppm <= PPM:
            raise ValueError(f"slash fraction must be 0..{PPM} ppm, got {fraction_ppm}")
        punished: dict[bytes, Validator] = {}
        for public_key in offenders:
            offender = self._by_key.get(public_key)
            if offender is None:
                raise ValueError(f"cannot slash unknown validator {public_key.hex()}")
            cut = offender.power * fraction_ppm // PPM
            if fraction_ppm > 0 and offender.power > 0:
                cut = max(cut, 1)
            punished[public_key] = Validator(offender.name, public_key, offender.power - cut, True)
        if all(v.public_key in punished for v in self.active):
            names = ", ".join(repr(v.name) for v in self.active)
            raise ValueError(f"cannot jail {names}: no active validator would be left")
        validators = tuple(punished.get(v.public_key, v) for v in self.validators)
        kept = [
            p
            for v, p in zip(self.active, self._priorities, strict=True)
            if v.public_key not in punished
        ]
        # The rescale to 2 * T_new and the shift happen at the start of the increment.
        return self._derived(validators, kept)

    def verify_certificate(self, cert: Certificate, chain_id: str) -> None:
        """Raise ValueError unless ``cert`` proves a commit by this set: distinct active signers
        holding a quorum, each with a valid precommit signature for the certified batch."""
        signers: set[bytes] = set()
        power = 0
        for sig in cert.signatures:
            key = sig.validator
            if key in signers:
                raise ValueError(f"certificate: validator {key.hex()} signed twice")
            signers.add(key)
            validator = self._by_key.get(key)
            if validator is None:
                raise ValueError(f"certificate: signer {key.hex()} is not a validator")
            if not validator.active:
                raise ValueError(
                    f"certificate: signer {validator.name!r} is jailed or has no power"
                )
            power += validator.power
        if not self.is_quorum(power):
            raise ValueError(
                f"certificate: signers hold {power} of {self.total_power} power, not a quorum"
            )
        # Signatures last: they are the expensive check, and the cheap ones fail most forgeries.
        for vote in cert.votes():
            if not vote.verify(chain_id):
                name = self._by_key[vote.validator].name
                raise ValueError(
                    f"certificate: bad precommit signature from {name!r} for height "
                    f"{cert.height} round {cert.round} on chain {chain_id!r}"
                )

    def priorities(self) -> dict[bytes, int]:
        """Proposer priority of each active validator (by public key), for tests and display."""
        return {v.public_key: p for v, p in zip(self.active, self._priorities, strict=True)}
