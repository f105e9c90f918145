"""Threshold encryption: known answers for the group, Shamir and the ciphertext format, then
properties by hypothesis: any threshold set of verified shares decrypts, one fewer does not,
a wrong share is caught by its proof, a ciphertext bound to one sender or namespace does not
open or prove under another, a tampered one fails, and the stake-proportional share counts
keep every coalition below a third under the threshold and every set above two thirds at it.

Replay a failure with the seed hypothesis prints
(``pytest tests/unit/test_threshold.py --hypothesis-seed=N``).
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sequencer_net.threshold import apportion, dleq, envelope, group, hybrid, keys, shamir
from sequencer_net.threshold.shares import (
    DecryptionShare,
    combine,
    decrypt,
    make_shares,
    share_valid,
    valid_shares,
)

# A ciphertext of b"known answer" for namespace "rollup-a", sender "alice", under 7 G.
KAT = bytes.fromhex(
    "6014a447f59e86965e4e60ef5f787dbe3b4093e2481b62f5e54f3ee3c12b49a558f6aa9f97520afda6a792e7"
    "a006387a036f84c1d1e79e31eb2be763499db608d98623a24c482df6aafec883c87490d3ed49c03bc364418d"
    "2b68b44798587c02bc68687c0053e44c223cd730925c7721153c771c03f7d6173d9ed0b76fb447849e861d85"
    "d223bf9a0bb9f708422541c51fc1d792"
)
BASE_POINT = bytes.fromhex("58" + "66" * 31)


def test_group_known_answers() -> None:
    assert group.base_mul(group.scalar(1)) == BASE_POINT
    g = BASE_POINT
    assert group.base_mul(group.scalar(2)) == group.add(g, g)
    assert group.sub(group.base_mul(group.scalar(5)), g) == group.base_mul(group.scalar(4))
    assert group.s_mul(group.scalar(3), group.s_inv(group.scalar(3))) == group.scalar(1)
    assert group.scalar(-1) == (group.ORDER - 1).to_bytes(32, "little")
    with pytest.raises(ValueError):
        group.mul(group.scalar(3), bytes(32))  # not a main-subgroup point


def test_lagrange_known_answers() -> None:
    # f(0) = 2 f(1) - f(2) for a line; 3 f(1) - 3 f(2) + f(3) for a parabola.
    assert shamir.lagrange_at_zero([1, 2]) == [group.scalar(2), group.scalar(-1)]
    assert shamir.lagrange_at_zero([1, 2, 3]) == [
        group.scalar(3),
        group.scalar(-3),
        group.scalar(1),
    ]
    with pytest.raises(ValueError):
        shamir.lagrange_at_zero([1, 1])


def test_ciphertext_known_answer() -> None:
    ct = hybrid.Ciphertext.parse(KAT)
    shared = group.mul(group.scalar(7), ct.u)
    assert hybrid.open_with(ct, shared, "rollup-a", "alice") == b"known answer"
    assert ct.label_holds("rollup-a", "alice")
    assert hybrid.open_with(ct, group.mul(group.scalar(8), ct.u), "rollup-a", "alice") is None


def test_share_counts_known_answers() -> None:
    assert apportion.share_counts([10, 10, 10, 10]) == [6, 6, 6, 6]
    assert apportion.share_counts([10, 10, 10, 5]) == [7, 7, 7, 3]
    assert sum(apportion.share_counts([1, 1, 1, 1, 1, 1, 100])) == 42
    assert apportion.threshold_for(24) == 13
    with pytest.raises(ValueError):
        apportion.share_counts([10, 0])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=1_000), min_size=1, max_size=9))
def test_threshold_separates_a_third_from_two_thirds(stakes: list[int]) -> None:
    counts = apportion.share_counts(stakes)
    t = apportion.threshold_for(sum(counts))
    total = sum(stakes)
    for size in range(len(stakes) + 1):
        for members in itertools.combinations(range(len(stakes)), size):
            stake = sum(stakes[i] for i in members)
            shares = sum(counts[i] for i in members)
            if 3 * stake < total:
                assert shares < t, (stakes, members)
            if 3 * stake > 2 * total:
                assert shares >= t, (stakes, members)


def _cluster(stakes: list[int]) -> tuple[keys.ThresholdPublic, list[keys.KeyShare]]:
    validators = [bytes([i + 1]) * 32 for i in range(len(stakes))]
    return keys.deal(validators, stakes)


def _all_shares(ks: list[keys.KeyShare], ct: hybrid.Ciphertext) -> list[DecryptionShare]:
    return [s for k in ks for s in make_shares(k, ct)]


@settings(max_examples=15, deadline=None)
@given(
    stakes=st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=5),
    plaintext=st.binary(max_size=200),
    data=st.data(),
)
def test_any_threshold_set_decrypts_and_one_fewer_does_not(
    stakes: list[int], plaintext: bytes, data: st.DataObject
) -> None:
    public, ks = _cluster(stakes)
    for k in ks:
        assert k.matches(public) is None
    raw = hybrid.encrypt(public.public_key, "ns", "alice", plaintext)
    ct = hybrid.Ciphertext.parse(raw)
    shares = _all_shares(ks, ct)
    assert len(shares) == public.share_count
    chosen = data.draw(st.permutations(shares))[: public.threshold]
    verified = valid_shares(public, ct, chosen)
    assert len(verified) == public.threshold
    assert decrypt(public, ct, "ns", "alice", verified) == plaintext
    fewer = dict(list(verified.items())[:-1])
    with pytest.raises(ValueError):
        combine(public, fewer)
    # Interpolating one fewer share as if it were enough gives a wrong point: no plaintext.
    if len(fewer) >= 1:
        idx = sorted(fewer)
        wrong = group.mul(shamir.lagrange_at_zero(idx)[0], fewer[idx[0]].point)
        for i, lam in zip(idx[1:], shamir.lagrange_at_zero(idx)[1:], strict=True):
            wrong = group.add(wrong, group.mul(lam, fewer[i].point))
        assert hybrid.open_with(ct, wrong, "ns", "alice") is None


@settings(max_examples=15, deadline=None)
@given(stakes=st.lists(st.integers(min_value=1, max_value=50), min_size=2, max_size=5))
def test_a_wrong_share_is_detected_by_its_proof(stakes: list[int]) -> None:
    public, ks = _cluster(stakes)
    ct = hybrid.Ciphertext.parse(hybrid.encrypt(public.public_key, "ns", "alice", b"x"))
    good = _all_shares(ks, ct)
    assert all(share_valid(public, ct, s) for s in good)
    s = good[0]
    other = good[1]
    forged = [
        DecryptionShare(s.index, group.add(s.point, BASE_POINT), s.proof),  # skewed point
        DecryptionShare(other.index, s.point, s.proof),  # someone else's index
        DecryptionShare(s.index, s.point, other.proof),  # proof of another share
        DecryptionShare(s.index, s.point, bytes(64)),  # garbage proof
        DecryptionShare(public.share_count + 1, s.point, s.proof),  # no such index
    ]
    for f in forged:
        assert not share_valid(public, ct, f)
    # A proof for another ciphertext's share does not carry over either.
    ct2 = hybrid.Ciphertext.parse(hybrid.encrypt(public.public_key, "ns", "alice", b"y"))
    assert not share_valid(public, ct2, s)


def test_a_ciphertext_is_bound_to_its_sender_and_namespace() -> None:
    public, ks = _cluster([10, 10, 10, 10])
    ct = hybrid.Ciphertext.parse(hybrid.encrypt(public.public_key, "ns", "alice", b"secret"))
    verified = valid_shares(public, ct, _all_shares(ks, ct))
    assert decrypt(public, ct, "ns", "alice", verified) == b"secret"
    assert decrypt(public, ct, "ns", "mallory", verified) is None
    assert decrypt(public, ct, "other", "alice", verified) is None
    assert ct.label_holds("ns", "alice")
    assert not ct.label_holds("ns", "mallory")
    assert not ct.label_holds("other", "alice")


@settings(max_examples=30, deadline=None)
@given(position=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_a_tampered_ciphertext_fails(position: int, bit: int) -> None:
    raw = bytearray(KAT)
    raw[position % len(raw)] ^= 1 << bit
    try:
        ct = hybrid.Ciphertext.parse(bytes(raw))
    except ValueError:
        return  # the ephemeral point or a proof scalar no longer parses: refused outright
    assert not ct.label_holds("rollup-a", "alice")  # so no validator releases a share
    if not 32 <= position % len(raw) < 96:  # outside the proof, the box no longer opens either
        shared = group.mul(group.scalar(7), ct.u)
        assert hybrid.open_with(ct, shared, "rollup-a", "alice") is None


def test_dleq_proof_round_trip_and_context() -> None:
    x = group.random_scalar()
    u = group.base_mul(group.random_scalar())
    d = group.mul(x, u)
    proof = dleq.prove(x, u, d, b"ctx")
    assert dleq.verify(group.base_mul(x), u, d, proof, b"ctx")
    assert not dleq.verify(group.base_mul(x), u, d, proof, b"other")
    assert not dleq.verify(group.base_mul(x), u, group.base_mul(x), proof, b"ctx")


def test_key_share_mismatch_is_named() -> None:
    public, ks = _cluster([10, 10, 10, 10])
    swapped = keys.KeyShare(ks[0].validator, ks[1].shares)
    assert "indices" in (swapped.matches(public) or "")
    (i, _x), *rest = ks[0].shares
    wrong = keys.KeyShare(ks[0].validator, ((i, group.scalar(5)), *rest))
    assert "verification key" in (wrong.matches(public) or "")


def test_envelope_marks_and_checks_encrypted_payloads() -> None:
    public, _ = _cluster([10, 10, 10])
    payload = envelope.seal(public.public_key, "ns", "alice", b"hi")
    assert envelope.is_encrypted(payload)
    assert envelope.payload_problem(public, "ns", "alice", payload) is None
    assert "proof" in (envelope.payload_problem(public, "ns", "bob", payload) or "")
    assert "no threshold key" in (envelope.payload_problem(None, "ns", "alice", payload) or "")
    assert "malformed" in (envelope.payload_problem(public, "ns", "a", envelope.PREFIX) or "")
    assert envelope.payload_problem(public, "ns", "alice", b"plain") is None
