"""Tests for the validator set: quorum math, CometBFT proposer selection, slashing, certificates."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sequencer_net import codec, validators
from sequencer_net.crypto import PrivateKey, digest
from sequencer_net.types import Certificate, CommitSig, VoteKind, sign_vote
from sequencer_net.validators import RoundTooFar, Validator, ValidatorSet, ValidatorSetSnapshot

CHAIN = "test-chain"
BATCH = digest(b"batch")


def keys(n: int) -> list[PrivateKey]:
    """``n`` deterministic keys, sorted by public key so index order is tie-break order."""
    return sorted((PrivateKey.from_label(f"val-{i}") for i in range(n)), key=lambda k: k.public_key)


def make_set(powers: list[int]) -> ValidatorSet:
    """Validators v0, v1, ... with v_i holding powers[i]; v0 has the smallest key."""
    return ValidatorSet(
        Validator(f"v{i}", k.public_key, p)
        for i, (k, p) in enumerate(zip(keys(len(powers)), powers, strict=True))
    )


def proposers_by_height(vs: ValidatorSet, heights: int) -> list[str]:
    names = []
    for _ in range(heights):
        names.append(vs.proposer.name)
        vs = vs.next_height()
    return names


def assert_proportional(names: list[str], vs: ValidatorSet) -> None:
    counts = Counter(names)
    for v in vs.active:
        expected = len(names) * v.power / vs.total_power
        assert abs(counts[v.name] - expected) <= 0.01 * expected, (v.name, counts[v.name], expected)


# --- quorum math ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("powers", "min_quorum", "min_third"),
    [
        ([1, 1, 1], 3, 2),  # total 3: 2/3 is exactly 2, so 2 is *not* more than 2/3
        ([1, 1, 1, 1], 3, 2),  # total 4: 8/3 -> 3; 4/3 -> 2
        ([10, 10, 10, 5], 24, 12),  # total 35: 70/3 = 23.33 -> 24; 35/3 = 11.67 -> 12
        ([25, 25, 25, 25], 67, 34),  # total 100: 66 is not a quorum, 33 not a third
    ],
)
def test_quorum_and_third_thresholds_are_exact(
    powers: list[int], min_quorum: int, min_third: int
) -> None:
    vs = make_set(powers)
    assert vs.total_power == sum(powers)
    assert not vs.is_quorum(min_quorum - 1)
    assert vs.is_quorum(min_quorum)
    assert not vs.is_third(min_third - 1)
    assert vs.is_third(min_third)


# --- proposer selection --------------------------------------------------------------------


def test_proposers_over_heights_are_exactly_proportional_for_10_10_10_5() -> None:
    vs = make_set([10, 10, 10, 5])
    counts = Counter(proposers_by_height(vs, 3500))
    # 3500 heights are 100 full cycles of total power 35.
    assert counts == {"v0": 1000, "v1": 1000, "v2": 1000, "v3": 500}


def test_proposers_over_heights_are_proportional_for_1_to_10() -> None:
    vs = make_set(list(range(1, 11)))
    assert_proportional(proposers_by_height(vs, 3500), vs)


def test_proposers_over_rounds_at_one_height_are_proportional() -> None:
    vs = make_set([10, 10, 10, 5]).next_height()
    counts = Counter(vs.proposer_for_round(r).name for r in range(3500))
    assert counts == {"v0": 1000, "v1": 1000, "v2": 1000, "v3": 500}
    vs = make_set(list(range(1, 11)))
    assert_proportional([vs.proposer_for_round(r).name for r in range(3500)], vs)


def test_proposer_for_round_zero_is_proposer_and_rounds_match_cometbft_increments() -> None:
    vs = make_set([1, 2, 3])
    assert vs.proposer_for_round(0) == vs.proposer
    # IncrementProposerPriority(r) from this height's priorities [1, 2, -3] (see the hand example
    # below) walks the same steps as heights do here, because no rescale is ever needed.
    assert [vs.proposer_for_round(r).name for r in range(6)] == proposers_by_height(vs, 6)
    # Memoised answers do not depend on the order rounds are asked in.
    fresh = make_set([1, 2, 3])
    assert fresh.proposer_for_round(5) == vs.proposer_for_round(5)
    with pytest.raises(ValueError, match="round"):
        vs.proposer_for_round(-1)


def test_hand_computed_proposers_for_powers_1_2_3() -> None:
    # Total T = 6, keys v0 < v1 < v2. Genesis priorities all start at -(6 + 6>>3) = -6 and the
    # average shift makes them 0,0,0. Each height: add powers, highest wins (ties: smaller key),
    # winner pays T. The rescale (spread > 12) and the shift (sum stays 0) never change anything.
    #   h1: 0,0,0    +1,2,3 -> 1,2,3    v2 wins -> 1,2,-3
    #   h2:          +      -> 2,4,0    v1 wins -> 2,-2,0
    #   h3:          +      -> 3,0,3    tie v0/v2, v0 has smaller key -> -3,0,3
    #   h4:          +      -> -2,2,6   v2 wins -> -2,2,0
    #   h5:          +      -> -1,4,3   v1 wins -> -1,-2,3
    #   h6:          +      -> 0,0,6    v2 wins -> 0,0,0 (back to the start)
    expected = [
        ("v2", [1, 2, -3]),
        ("v1", [2, -2, 0]),
        ("v0", [-3, 0, 3]),
        ("v2", [-2, 2, 0]),
        ("v1", [-1, -2, 3]),
        ("v2", [0, 0, 0]),
    ]
    vs = make_set([1, 2, 3])
    for name, priorities in expected:
        assert vs.proposer.name == name
        assert list(vs.priorities().values()) == priorities
        vs = vs.next_height()


def test_input_order_does_not_matter() -> None:
    validators = list(make_set(list(range(1, 8))).validators)
    a = ValidatorSet(validators)
    b = ValidatorSet(reversed(validators))
    assert a.validators == b.validators
    assert a.hash == b.hash
    assert proposers_by_height(a, 200) == proposers_by_height(b, 200)
    assert [a.proposer_for_round(r) for r in range(50)] == [
        b.proposer_for_round(r) for r in range(50)
    ]


def test_equal_stakes_rotate_in_key_order_starting_with_smallest_key() -> None:
    vs = make_set([7, 7, 7, 7])
    assert vs.proposer.public_key == min(v.public_key for v in vs.validators)
    assert proposers_by_height(vs, 8) == ["v0", "v1", "v2", "v3"] * 2


def test_validators_are_in_key_order_and_lookups_work() -> None:
    vs = ValidatorSet(reversed(make_set([3, 0, 2]).validators))
    assert [v.name for v in vs.validators] == ["v0", "v1", "v2"]
    assert [v.name for v in vs.active] == ["v0", "v2"]  # zero power is not active
    zero = vs.validators[1].public_key
    assert vs.get(zero) == vs.validators[1]
    assert vs.power_of(zero) == 0 and zero not in vs
    assert vs.power_of(vs.validators[0].public_key) == 3 and vs.validators[0].public_key in vs
    stranger = PrivateKey.from_label("stranger").public_key
    assert vs.get(stranger) is None and vs.power_of(stranger) == 0 and stranger not in vs
    assert "not bytes" not in vs


def test_hash_covers_active_keys_and_powers_only() -> None:
    vs = make_set([1, 2, 3])
    k0, k1, k2 = (v.public_key for v in vs.validators)
    assert vs.hash == digest(codec.encode([[k0, 1], [k1, 2], [k2, 3]]))
    assert vs.next_height().hash == vs.hash  # priorities are excluded
    assert make_set([1, 2, 4]).hash != vs.hash
    k3 = PrivateKey.from_label("extra").public_key
    with_inactive = ValidatorSet(
        [*vs.validators, Validator("jailed", k3, 5, jailed=True), Validator("idle", bytes(32), 0)]
    )
    assert with_inactive.hash == vs.hash


# --- slashing ------------------------------------------------------------------------------


def test_slash_reduces_power_jails_and_updates_quorum_math() -> None:
    vs = make_set([100, 100, 100, 100])
    bad = vs.validators[3].public_key
    slashed = vs.slash(bad, 50_000)  # 5%
    jailed = slashed.get(bad)
    assert jailed is not None and jailed.power == 95 and jailed.jailed
    assert jailed in slashed.validators and jailed not in slashed.active
    assert bad not in slashed and slashed.power_of(bad) == 0
    assert slashed.total_power == 300
    assert not slashed.is_quorum(200) and slashed.is_quorum(201)
    assert slashed.hash != vs.hash
    assert vs.get(bad) == vs.validators[3] and not vs.validators[3].jailed  # original unchanged


def test_slash_rounds_down_but_takes_at_least_one() -> None:
    vs = make_set([3, 10, 10])
    assert vs.slash(vs.validators[0].public_key, 1).validators[0].power == 2  # floor 0 -> 1
    assert vs.slash(vs.validators[0].public_key, 500_000).validators[0].power == 2  # 1.5 -> 1
    assert vs.slash(vs.validators[0].public_key, 1_000_000).validators[0].power == 0
    assert vs.slash(vs.validators[0].public_key, 0).validators[0].power == 3


def test_hand_computed_slash_rescales_with_truncation_and_euclidean_average() -> None:
    # Powers 1,1,10 (T = 12). Heights 1-3: v2 wins each time (1,1,-2 / 2,2,-4 / 3,3,-6); at
    # height 4 everyone reaches 4, the tie goes to v0: priorities -8,4,4.
    vs = make_set([1, 1, 10])
    for _ in range(3):
        vs = vs.next_height()
    assert list(vs.priorities().values()) == [-8, 4, 4]
    # Jail v2: v0, v1 keep -8, 4 with T = 2. Spread 12 > 2T = 4, ratio ceil(12/4) = 3:
    # trunc(-8/3) = -2 (not floor's -3), 4/3 = 1. Average floor(-1/2) = -1 (Euclidean, not Go
    # truncation's 0): -1, 2. Then the next height's increment: 0, 3 -> v1 wins -> 0, 1.
    slashed = vs.slash(vs.validators[2].public_key, 1_000_000)
    assert slashed.proposer.name == "v1"
    assert list(slashed.priorities().values()) == [0, 1]


def test_hand_computed_rounds_rescale_once_after_a_slash() -> None:
    # Powers 10,1,3,5 (T = 19); no rescale is needed before the slash, the sum stays 0:
    # (after adding powers -> winner: after the winner pays 19)
    #   h1 10,1,3,5 -> v0: -9,1,3,5    h2 1,2,6,10 -> v3: 1,2,6,-9    h3 11,3,9,-4 -> v0: -8,3,9,-4
    #   h4 2,4,12,1 -> v2: 2,4,-7,1    h5 12,5,-4,6 -> v0: -7,5,-4,6  h6 3,6,-1,11 -> v3: 3,6,-1,-8
    #   h7 13,7,2,-3 -> v0: -6,7,2,-3  h8 4,8,5,2 -> v1: 4,-11,5,2   h9 14,-10,8,7 -> v0: -5,-10,8,7
    vs = make_set([10, 1, 3, 5])
    for _ in range(8):
        vs = vs.next_height()
    assert vs.proposer.name == "v0"
    assert list(vs.priorities().values()) == [-5, -10, 8, 7]
    # Jail v0: -10,8,7 with T = 9; spread 18 fits 2T; average 5 // 3 = 1 -> -11,7,6;
    # step -10,10,11 -> v3 wins -> -10,10,2.
    vs = vs.slash(vs.validators[0].public_key, 1_000_000)
    assert vs.proposer.name == "v3"
    assert list(vs.priorities().values()) == [-10, 10, 2]
    # Rounds: spread 20 > 18, so IncrementProposerPriority(r) first halves (ratio 2): -5,5,1
    # (average 0), then steps: v2 (-4,-1,6), v3 (-3,2,2), v3 (-2,5,-2), v2 (-1,-1,3), v3 (0,2,-1).
    # Without that rescale, round 3 would go to v2.
    assert [vs.proposer_for_round(r).name for r in range(6)] == ["v3", "v2", "v3", "v3", "v2", "v3"]
    # Round 1 and the next height's round 0 are the same single increment.
    assert vs.next_height().proposer == vs.proposer_for_round(1)


def test_jailed_validator_never_proposes_and_priorities_stay_in_window() -> None:
    vs = make_set(list(range(1, 11)))
    for _ in range(17):
        vs = vs.next_height()
    bad = vs.active[-1].public_key  # the biggest stake
    vs = vs.slash(bad, 100_000)
    first = vs
    for _ in range(500):
        assert vs.proposer.public_key != bad
        priorities = list(vs.priorities().values())
        assert bad not in vs.priorities()
        assert max(priorities) - min(priorities) <= 2 * vs.total_power
        assert abs(sum(priorities)) < len(priorities)  # average within 1 of zero
        vs = vs.next_height()
    assert all(first.proposer_for_round(r).public_key != bad for r in range(500))


def test_slash_refusals() -> None:
    vs = make_set([5, 5])
    with pytest.raises(ValueError, match="unknown"):
        vs.slash(PrivateKey.from_label("stranger").public_key, 1000)
    with pytest.raises(ValueError, match="fraction"):
        vs.slash(vs.validators[0].public_key, 1_000_001)
    with pytest.raises(ValueError, match="fraction"):
        vs.slash(vs.validators[0].public_key, -1)
    one_left = vs.slash(vs.validators[0].public_key, 1000)
    with pytest.raises(ValueError, match="no active validator would be left"):
        one_left.slash(vs.validators[1].public_key, 1000)


def test_punishing_two_at_once_equals_one_increment_without_them() -> None:
    vs = make_set([10, 20, 30, 40])
    a, b = vs.validators[0].public_key, vs.validators[3].public_key
    both = vs.punish([a, b], 100_000)
    assert [v.power for v in both.validators] == [9, 20, 30, 36]
    assert [v.jailed for v in both.validators] == [True, False, False, True]
    assert both.total_power == 50
    # One increment for the next height, whatever the number of offenders.
    again = ValidatorSet.restore(both.snapshot())
    assert again.priorities() == both.priorities()


def test_snapshot_restores_the_exact_set_through_the_codec() -> None:
    vs = make_set([5, 7, 11])
    for _ in range(13):
        vs = vs.next_height()
    vs = vs.slash(vs.validators[1].public_key, 50_000).next_height()
    blob = codec.encode(vs.snapshot())
    restored = ValidatorSet.restore(codec.decode(blob, ValidatorSetSnapshot))
    assert restored.validators == vs.validators
    assert restored.priorities() == vs.priorities()
    assert [restored.proposer_for_round(r) for r in range(9)] == [
        vs.proposer_for_round(r) for r in range(9)
    ]
    assert restored.next_height().priorities() == vs.next_height().priorities()


# --- certificates --------------------------------------------------------------------------


def commit_sig(
    key: PrivateKey, kind: VoteKind = VoteKind.PRECOMMIT, chain: str = CHAIN
) -> CommitSig:
    vote = sign_vote(key, chain, kind, 5, 1, BATCH)
    return CommitSig(vote.validator, vote.signature)


def cert(sigs: list[CommitSig]) -> Certificate:
    return Certificate(5, 1, BATCH, tuple(sigs))


@pytest.fixture
def signers() -> tuple[ValidatorSet, list[PrivateKey]]:
    return make_set([10, 10, 10, 10]), keys(4)  # quorum needs 3 of the 4


def test_certificate_accepts_a_quorum(signers: tuple[ValidatorSet, list[PrivateKey]]) -> None:
    vs, ks = signers
    vs.verify_certificate(cert([commit_sig(k) for k in ks[:3]]), CHAIN)
    vs.verify_certificate(cert([commit_sig(k) for k in ks]), CHAIN)


def test_certificate_refusals(signers: tuple[ValidatorSet, list[PrivateKey]]) -> None:
    vs, ks = signers
    a, b, c, d = (commit_sig(k) for k in ks)
    stranger = commit_sig(PrivateKey.from_label("stranger"))
    cases = [
        ([a, b], "not a quorum"),
        ([], "not a quorum"),
        ([a, b, b], "twice"),  # counting b twice would make 30 of 40, a quorum
        ([a, b, c, stranger], "not a validator"),
        ([a, b, commit_sig(ks[2], chain="other-chain")], "signature"),
        ([a, b, commit_sig(ks[2], kind=VoteKind.PREVOTE)], "signature"),
    ]
    for sigs, reason in cases:
        with pytest.raises(ValueError, match=reason):
            vs.verify_certificate(cert(sigs), CHAIN)
    with pytest.raises(ValueError, match="signature"):
        vs.verify_certificate(cert([a, b, c]), "other-chain")
    other_batch = Certificate(5, 1, digest(b"other"), (a, b, c))
    with pytest.raises(ValueError, match="signature"):
        vs.verify_certificate(other_batch, CHAIN)
    # After d is jailed, a, b and d would be 30 of the remaining 30 if d still counted.
    jailed = vs.slash(ks[3].public_key, 10_000)
    with pytest.raises(ValueError, match="jailed"):
        jailed.verify_certificate(cert([a, b, d]), CHAIN)
    jailed.verify_certificate(cert([a, b, c]), CHAIN)


# --- construction --------------------------------------------------------------------------


def test_constructor_refusals() -> None:
    k0, k1 = (k.public_key for k in keys(2))
    with pytest.raises(ValueError, match="duplicate validator public key"):
        ValidatorSet([Validator("a", k0, 1), Validator("b", k0, 2)])
    with pytest.raises(ValueError, match="duplicate validator name"):
        ValidatorSet([Validator("a", k0, 1), Validator("a", k1, 2)])
    with pytest.raises(ValueError, match="no active"):
        ValidatorSet([])
    with pytest.raises(ValueError, match="no active"):
        ValidatorSet([Validator("a", k0, 1, jailed=True), Validator("b", k1, 0)])
    with pytest.raises(ValueError, match="power"):
        ValidatorSet([Validator("a", k0, -1), Validator("b", k1, 2)])
    with pytest.raises(ValueError, match="32 bytes"):
        ValidatorSet([Validator("a", k0[:31], 1)])
    with pytest.raises(ValueError, match="name"):
        ValidatorSet([Validator("", k0, 1)])


def test_genesis_may_hold_jailed_validators_who_never_propose() -> None:
    k0, k1, k2 = (k.public_key for k in keys(3))
    vs = ValidatorSet(
        [Validator("a", k0, 50, jailed=True), Validator("b", k1, 1), Validator("c", k2, 1)]
    )
    assert vs.total_power == 2 and k0 not in vs
    assert {name for name in proposers_by_height(vs, 20)} == {"b", "c"}


# --- proposer schedule: the fast walk against a plain one ------------------------------------


def reference_schedule(vs: ValidatorSet, rounds: int, skipped: frozenset[bytes]) -> list[bytes]:
    """CometBFT's proposer of each round, one increment at a time from the set's priorities
    (rescale to 2 * total, centre by Euclidean average, then add-pick-charge per round),
    passing over ``skipped``: the schedule :meth:`ValidatorSet.proposer_for_round` must keep."""
    total = vs.total_power
    keys_ = [v.public_key for v in vs.active]
    powers = [v.power for v in vs.active]
    prio = [vs.priorities()[k] for k in keys_]
    spread = max(prio) - min(prio)
    if spread > 2 * total:
        ratio = -(-spread // (2 * total))
        prio = [p // ratio if p >= 0 else -(-p // ratio) for p in prio]
    average = sum(prio) // len(prio)
    prio = [p - average for p in prio]
    sequence = [vs.proposer.public_key] if vs.proposer.public_key not in skipped else []
    while len(sequence) < rounds:
        prio = [p + w for p, w in zip(prio, powers, strict=True)]
        picked = max(range(len(prio)), key=lambda i: (prio[i], -i))
        prio[picked] -= total
        if keys_[picked] not in skipped:
            sequence.append(keys_[picked])
    return sequence[:rounds]


@st.composite
def sets_and_skips(draw: st.DrawFn) -> tuple[ValidatorSet, frozenset[bytes]]:
    n = draw(st.integers(1, 7))
    powers = draw(st.lists(st.integers(0, 200), min_size=n, max_size=n))
    jailed = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    powers[0] = max(powers[0], 1)
    jailed[0] = False
    vs = ValidatorSet(
        Validator(f"v{i}", k.public_key, p, j)
        for i, (k, p, j) in enumerate(zip(keys(n), powers, jailed, strict=True))
    )
    for _ in range(draw(st.integers(0, 3))):
        vs = vs.next_height()
    active = [v.public_key for v in vs.active]
    skipped = draw(st.sets(st.sampled_from(active), max_size=len(active) - 1))
    return vs, frozenset(skipped)


@settings(max_examples=60, deadline=None)
@given(sets_and_skips(), st.integers(1, 3000), st.randoms(use_true_random=False))
def test_proposer_for_round_keeps_the_step_by_step_schedule(
    case: tuple[ValidatorSet, frozenset[bytes]], rounds: int, rng: random.Random
) -> None:
    vs, skipped = case
    view = vs.skipping(skipped) if skipped else vs
    expected = reference_schedule(vs, rounds, skipped)
    # Asked out of order (far rounds first), so the periodic shortcut is what answers them.
    order = sorted(range(rounds), key=lambda _: rng.random())
    got = {r: view.proposer_for_round(r).public_key for r in order}
    assert [got[r] for r in range(rounds)] == expected
    assert [vs.proposer_for_round(r).public_key for r in range(rounds)] == reference_schedule(
        vs, rounds, frozenset()
    )


@pytest.mark.parametrize("powers", [[10, 10, 10, 10], [30, 20, 15, 10, 10, 10, 5], [3, 1000]])
def test_a_round_near_2_pow_62_costs_a_bounded_walk(powers: list[int]) -> None:
    vs = make_set(powers)
    view = vs.skipping(frozenset([vs.active[0].public_key]))
    far = 2**62
    # The schedule repeats, so the far round equals the one its period maps it to.
    assert vs.proposer_for_round(far) in vs.active
    assert view.proposer_for_round(far) != vs.active[0]
    walk = vs._walk
    assert walk.cycle is not None
    start, length = walk.cycle
    assert length % (sum(powers) // math.gcd(*powers)) == 0
    assert walk.steps <= 4 * (start + length)
    assert vs.proposer_for_round(far) == vs.proposer_for_round(start + (far - start) % length)
    expected = reference_schedule(vs, start + 3 * length, frozenset())
    assert [vs.proposer_for_round(r).public_key for r in range(len(expected))] == expected


def test_a_schedule_that_does_not_repeat_soon_refuses_far_rounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(validators, "MAX_WALK", 50)
    vs = make_set([1_000_003, 999_983, 7])  # coprime stakes: period over two million rounds
    assert vs.proposer_for_round(49) in vs.active
    with pytest.raises(RoundTooFar):
        vs.proposer_for_round(2**62)
    assert vs._walk.steps == 50


def test_a_set_larger_than_a_certificate_can_hold_is_refused() -> None:
    many = [Validator(f"v{i}", digest(b"%d" % i), 1) for i in range(validators.MAX_VALIDATORS + 1)]
    with pytest.raises(ValueError, match="at most 1000 validators"):
        ValidatorSet(many)
    assert len(ValidatorSet(many[:-1]).active) == validators.MAX_VALIDATORS


def test_a_skipping_view_and_its_set_share_one_walk_without_disturbing_each_other() -> None:
    vs = make_set([30, 20, 15, 10, 10, 10, 5])
    view = vs.skipping(frozenset([vs.active[0].public_key]))
    assert view.proposer_for_round(5) != vs.active[0]  # the view walks first
    expected = reference_schedule(vs, 40, frozenset())
    assert [vs.proposer_for_round(r).public_key for r in range(40)] == expected
