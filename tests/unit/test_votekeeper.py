"""Tests for the vote keeper: stake-weighted tallies, quorum boundaries, nil vs value,
equivocators (counted per value, once in the total) and the per-validator value cap."""

from __future__ import annotations

import pytest

from sequencer_net.consensus.votekeeper import MAX_VALUES_PER_VALIDATOR, AddResult, VoteKeeper
from sequencer_net.crypto import PrivateKey, digest
from sequencer_net.types import DuplicateVote, Vote, VoteKind, sign_vote
from sequencer_net.validators import Validator, ValidatorSet

CHAIN = "test-chain"
HEIGHT = 1
KEYS = [PrivateKey.from_label(f"v{i}") for i in range(4)]
STRANGER = PrivateKey.from_label("stranger")
A, B = digest(b"a"), digest(b"b")
PV, PC = VoteKind.PREVOTE, VoteKind.PRECOMMIT


def make_set(powers: list[int], jailed: int | None = None) -> ValidatorSet:
    return ValidatorSet(
        Validator(f"v{i}", k.public_key, p, jailed=(i == jailed))
        for i, (k, p) in enumerate(zip(KEYS, powers, strict=True))
    )


def vote(
    i: int | PrivateKey,
    value: bytes | None,
    round: int = 0,
    kind: VoteKind = PV,
    height: int = HEIGHT,
) -> Vote:
    key = KEYS[i] if isinstance(i, int) else i
    return sign_vote(key, CHAIN, kind, height, round, value)


def keeper(powers: list[int]) -> VoteKeeper:
    return VoteKeeper(HEIGHT, make_set(powers))


def test_tallies_are_stake_weighted() -> None:
    vk = keeper([10, 10, 10, 5])  # total 35: a quorum needs 3p > 70, i.e. p >= 24
    assert vk.add(vote(3, A)).counted
    assert vk.power_for(0, PV, A) == 5
    assert vk.add(vote(0, A)).counted
    assert vk.power_for(0, PV, A) == 15
    assert not vk.has_quorum_for(0, PV, A)
    assert vk.add(vote(1, A)).counted
    assert vk.power_for(0, PV, A) == 25
    assert vk.has_quorum_for(0, PV, A)
    assert vk.total(0, PV) == 25
    assert vk.quorum_values(PV) == [(0, A)]


def test_quorum_boundary_is_strictly_more_than_two_thirds() -> None:
    vk = keeper([10, 10, 5, 5])  # total 30: exactly 2/3 is 20, not a quorum
    vk.add(vote(0, A))
    vk.add(vote(2, A))
    vk.add(vote(3, A))
    assert vk.power_for(0, PV, A) == 20
    assert not vk.has_quorum_for(0, PV, A)
    assert not vk.has_quorum_of_any(0, PV)
    assert vk.quorum_values(PV) == []
    vk.add(vote(1, A))
    assert vk.power_for(0, PV, A) == 30
    assert vk.has_quorum_for(0, PV, A)


def test_quorum_boundary_just_above_two_thirds() -> None:
    vk = keeper([10, 10, 5, 5])
    vk.add(vote(0, A))
    vk.add(vote(1, A))
    assert not vk.has_quorum_for(0, PV, A)  # 20 of 30
    vk.add(vote(2, A))
    assert vk.has_quorum_for(0, PV, A)  # 25 of 30


def test_nil_and_value_are_tallied_apart() -> None:
    vk = keeper([10, 10, 10, 10])
    for i in range(3):
        vk.add(vote(i, None))
    vk.add(vote(3, A))
    assert vk.power_for(0, PV, None) == 30
    assert vk.power_for(0, PV, A) == 10
    assert vk.has_quorum_for(0, PV, None)
    assert not vk.has_quorum_for(0, PV, A)
    assert vk.total(0, PV) == 40
    # quorum_values never reports nil
    assert vk.quorum_values(PV) == []
    assert vk.votes_for(0, PV, None) == [vote(i, None) for i in range(3)]
    assert vk.votes_for(0, PV, A) == [vote(3, A)]


def test_mixed_votes_make_a_quorum_of_any_but_of_no_value() -> None:
    vk = keeper([10, 10, 10, 10])
    vk.add(vote(0, A))
    vk.add(vote(1, B))
    assert not vk.has_quorum_of_any(0, PV)
    vk.add(vote(2, None))
    assert vk.has_quorum_of_any(0, PV)
    assert not any(vk.has_quorum_for(0, PV, v) for v in (A, B, None))


def test_rounds_and_kinds_are_tallied_apart() -> None:
    vk = keeper([10, 10, 10, 10])
    for i in range(3):
        vk.add(vote(i, A, round=1, kind=PC))
    assert vk.has_quorum_for(1, PC, A)
    assert not vk.has_quorum_for(1, PV, A)
    assert not vk.has_quorum_for(0, PC, A)
    assert vk.quorum_values(PC) == [(1, A)]
    assert vk.quorum_values(PV) == []
    assert vk.total(1, PV) == 0


def test_quorum_values_lists_every_round_in_order() -> None:
    vk = keeper([10, 10, 10, 10])
    for r, value in ((2, B), (0, A)):
        for i in range(3):
            vk.add(vote(i, value, round=r, kind=PC))
    assert vk.quorum_values(PC) == [(0, A), (2, B)]


def test_repeated_vote_is_not_counted_again() -> None:
    vk = keeper([10, 10, 10, 10])
    v = vote(0, A)
    assert vk.add(v) == AddResult(counted=True)
    assert vk.add(v) == AddResult(counted=False)
    assert vk.add(v) == AddResult(counted=False)
    assert vk.power_for(0, PV, A) == 10
    assert vk.total(0, PV) == 10
    assert vk.votes_for(0, PV, A) == [v]


def test_equivocator_counts_for_both_values_but_once_in_total() -> None:
    vk = keeper([10, 10, 10, 10])
    first, second = vote(0, A), vote(0, None)
    assert vk.add(first).evidence is None
    result = vk.add(second)
    assert result.counted
    assert isinstance(result.evidence, DuplicateVote)
    assert result.evidence.verify(CHAIN)
    assert {result.evidence.first, result.evidence.second} == {first, second}
    assert vk.power_for(0, PV, A) == 10
    assert vk.power_for(0, PV, None) == 10
    assert vk.total(0, PV) == 10
    # Two honest votes for A plus the equivocator: a quorum for A, no quorum of any beyond 30.
    vk.add(vote(1, A))
    vk.add(vote(2, A))
    assert vk.has_quorum_for(0, PV, A)
    assert vk.total(0, PV) == 30


def test_equivocator_does_not_make_a_quorum_of_any_on_its_own() -> None:
    vk = keeper([10, 10, 10, 10])
    vk.add(vote(0, A))
    vk.add(vote(0, B))
    vk.add(vote(0, None))
    vk.add(vote(1, A))
    assert vk.total(0, PV) == 20
    assert not vk.has_quorum_of_any(0, PV)


def test_value_cap_per_validator() -> None:
    vk = keeper([10, 10, 10, 10])
    values = [digest(bytes([i])) for i in range(MAX_VALUES_PER_VALIDATOR + 2)]
    results = [vk.add(vote(0, v)) for v in values]
    assert [r.counted for r in results] == [True] * MAX_VALUES_PER_VALIDATOR + [False, False]
    assert results[0].evidence is None
    assert all(isinstance(r.evidence, DuplicateVote) for r in results[1:])
    for v in values[:MAX_VALUES_PER_VALIDATOR]:
        assert vk.power_for(0, PV, v) == 10
    for v in values[MAX_VALUES_PER_VALIDATOR:]:
        assert vk.power_for(0, PV, v) == 0
        assert vk.votes_for(0, PV, v) == []
    assert vk.total(0, PV) == 10
    # The cap is per validator: another validator still counts.
    assert vk.add(vote(1, values[-1])).counted


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda: vote(STRANGER, A), id="unknown-key"),
        pytest.param(lambda: vote(0, A, height=HEIGHT + 1), id="other-height"),
        pytest.param(lambda: vote(3, A), id="jailed"),
    ],
)
def test_foreign_votes_are_not_counted(bad) -> None:
    vk = VoteKeeper(HEIGHT, make_set([10, 10, 10, 10], jailed=3))
    result = vk.add(bad())
    assert result.counted is False and result.evidence is None
    assert vk.total(0, PV) == 0
    assert vk.rounds_seen() == []
    assert vk.sender_power(0) == 0


def test_senders_are_counted_once_per_round_with_their_power() -> None:
    vk = keeper([10, 10, 10, 5])
    vk.add(vote(3, A, round=2))
    vk.add(vote(3, A, round=2, kind=PC))
    vk.add(vote(3, B, round=2))
    assert vk.sender_power(2) == 5
    vk.note_sender(2, KEYS[0].public_key)
    vk.note_sender(2, KEYS[0].public_key)
    assert vk.sender_power(2) == 15
    vk.add(vote(1, None, round=5))
    assert vk.rounds_seen() == [2, 5]
    assert vk.sender_power(5) == 10
    assert vk.sender_power(3) == 0
