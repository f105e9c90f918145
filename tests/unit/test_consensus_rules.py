"""Rule-by-rule tests of the one-height Tendermint machine (Algorithm 1 of Buchman, Kwon,
Milosevic 2018), with hand-built, really signed inputs: no simulator, no network.

Four validators of power 10 (``v0``..``v3``): a quorum is 3 of them (30 > 80/3), a third is 2
(20 > 40/3). ``ME`` is the validator that proposes none of rounds 0, 1 and 2, so ``OTHERS``
(the three other validators) always hold a quorum without us, and the machine's own votes
are not needed (the machine only counts votes fed back to it).
"""

from __future__ import annotations

import io

import pytest
from helpers.chunks import certificate, chunk
from rich.console import Console

from sequencer_net.commands.consensus import render
from sequencer_net.consensus import (
    CastVote,
    ConsensusConfig,
    Decide,
    Driver,
    Effect,
    GetValue,
    HeightMachine,
    Input,
    ProposalReceived,
    Propose,
    ReportEvidence,
    RoundStarted,
    ScheduleTimeout,
    TimeoutElapsed,
    Timeouts,
    ValueReady,
    VoteReceived,
)
from sequencer_net.consensus.driver import DUMP_ROUNDS
from sequencer_net.crypto import PrivateKey, digest
from sequencer_net.types import (
    NIL_ROUND,
    Batch,
    BatchHeader,
    Certificate,
    CommitSig,
    DuplicateProposal,
    DuplicateVote,
    Step,
    VoteKind,
    chunks_digest,
    evidence_digest,
    make_evidence,
    sign_proposal,
    sign_vote,
)
from sequencer_net.validators import Validator, ValidatorSet

CHAIN = "test-chain"
HEIGHT = 1

KEYS = [PrivateKey.from_label(f"v{i}") for i in range(4)]
VS = ValidatorSet(Validator(f"v{i}", k.public_key, 10) for i, k in enumerate(KEYS))
KEY_OF = {k.public_key: k for k in KEYS}
STRANGERS = [PrivateKey.from_label(f"stranger{i}") for i in range(4)]

# Distinct bases and deltas per step, so a timeout of the wrong step or round shows.
BASE = {Step.PROPOSE: 1000, Step.PREVOTE: 300, Step.PRECOMMIT: 200}
DELTA = {Step.PROPOSE: 100, Step.PREVOTE: 30, Step.PRECOMMIT: 20}
TIMEOUTS = Timeouts(
    propose_ms=BASE[Step.PROPOSE],
    propose_delta_ms=DELTA[Step.PROPOSE],
    prevote_ms=BASE[Step.PREVOTE],
    prevote_delta_ms=DELTA[Step.PREVOTE],
    precommit_ms=BASE[Step.PRECOMMIT],
    precommit_delta_ms=DELTA[Step.PRECOMMIT],
)
CONFIG = ConsensusConfig(CHAIN, TIMEOUTS)


def proposer_key(round: int) -> PrivateKey:
    return KEY_OF[VS.proposer_for_round(round).public_key]


ME = next(k for k in KEYS if all(proposer_key(r) is not k for r in range(3)))
OTHERS = [k for k in KEYS if k is not ME]
# ME's fellow validators that do not propose round 0 (to send proposals that must be ignored).
NON_PROPOSERS_0 = [k for k in OTHERS if k is not proposer_key(0)]


# ---- helpers ---------------------------------------------------------------------------------


def batch(tag: str, round: int = 0) -> Batch:
    certs = (certificate(chunk(proposer_key(round), (tag.encode(),))),)
    header = BatchHeader(
        chain_id=CHAIN,
        height=HEIGHT,
        round=round,
        parent_id=digest(b"parent"),
        proposer=proposer_key(round).public_key,
        timestamp_ms=1_000 + round,
        chunks_digest=chunks_digest(certs),
        evidence_digest=evidence_digest(()),
        validator_set_hash=VS.hash,
    )
    return Batch(header, certs, ())


B = batch("b")
C = batch("c")


def _id(value: Batch | bytes | None) -> bytes | None:
    return value.id if isinstance(value, Batch) else value


def vote(
    key: PrivateKey, kind: VoteKind, round: int, value: Batch | None, height: int = HEIGHT
) -> VoteReceived:
    return VoteReceived(sign_vote(key, CHAIN, kind, height, round, _id(value)))


def prevote(key: PrivateKey, round: int, value: Batch | None, height: int = HEIGHT) -> VoteReceived:
    return vote(key, VoteKind.PREVOTE, round, value, height)


def precommit(
    key: PrivateKey, round: int, value: Batch | None, height: int = HEIGHT
) -> VoteReceived:
    return vote(key, VoteKind.PRECOMMIT, round, value, height)


def proposal(
    round: int,
    value: Batch,
    pol_round: int = NIL_ROUND,
    *,
    valid: bool = True,
    key: PrivateKey | None = None,
    height: int = HEIGHT,
) -> ProposalReceived:
    signer = key or proposer_key(round)
    signed = sign_proposal(signer, CHAIN, height, round, pol_round, value.id)
    return ProposalReceived(signed, value, valid)


def timeout(step: Step, round: int, height: int = HEIGHT) -> TimeoutElapsed:
    return TimeoutElapsed(step, height, round)


def sched(step: Step, round: int) -> ScheduleTimeout:
    return ScheduleTimeout(step, HEIGHT, round, BASE[step] + round * DELTA[step])


def cast(kind: VoteKind, round: int, value: Batch | None) -> CastVote:
    return CastVote(kind, HEIGHT, round, _id(value))


def my_prevote(round: int, value: Batch | None) -> CastVote:
    return cast(VoteKind.PREVOTE, round, value)


def my_precommit(round: int, value: Batch | None) -> CastVote:
    return cast(VoteKind.PRECOMMIT, round, value)


def feed(m: HeightMachine, *events: Input) -> list[Effect]:
    effects: list[Effect] = []
    for event in events:
        effects.extend(m.step_input(event))
    return effects


def make_machine(
    me: PrivateKey | None = ME,
    config: ConsensusConfig = CONFIG,
    validators: ValidatorSet = VS,
) -> HeightMachine:
    return HeightMachine(config, HEIGHT, validators, None if me is None else me.public_key)


@pytest.fixture
def m() -> HeightMachine:
    """A started machine for ME (a non-proposer of rounds 0-2), in round 0, propose step."""
    machine = make_machine()
    machine.start()
    return machine


def advance(m: HeightMachine) -> list[Effect]:
    """L65: the precommit timeout of the current round moves to the next one."""
    before = m.round
    effects = feed(m, timeout(Step.PRECOMMIT, before))
    assert m.round == before + 1
    return effects


def lock_current_round(m: HeightMachine, value: Batch) -> None:
    """Receive a fresh proposal of ``value`` and a quorum of prevotes for it: L36 locks it."""
    r = m.round
    feed(m, proposal(r, value), *(prevote(k, r, value) for k in OTHERS))
    assert (m.locked_value, m.locked_round) == (value, r)
    assert m.step == Step.PRECOMMIT


def expected_certificate(round: int, value: Batch, signers: list[PrivateKey]) -> Certificate:
    sigs = []
    for k in signers:
        v = sign_vote(k, CHAIN, VoteKind.PRECOMMIT, HEIGHT, round, value.id)
        sigs.append(CommitSig(v.validator, v.signature))
    return Certificate(HEIGHT, round, value.id, tuple(sorted(sigs, key=lambda s: s.validator)))


def test_fixture_assumptions() -> None:
    assert len({proposer_key(r).public_key for r in range(3)}) == 3
    assert ME not in {proposer_key(r) for r in range(3)}
    assert VS.is_quorum(30) and not VS.is_quorum(20)
    assert VS.is_third(20) and not VS.is_third(10)


# ---- StartRound (L11-L21) --------------------------------------------------------------------


def test_start_round_proposer_without_valid_value_gets_value_then_proposes_fresh() -> None:
    me = proposer_key(0)
    m = make_machine(me)
    assert m.start() == [RoundStarted(HEIGHT, 0), GetValue(HEIGHT, 0), sched(Step.PROPOSE, 0)]
    assert feed(m, ValueReady(HEIGHT, 1, B), ValueReady(HEIGHT + 1, 0, B)) == []
    assert feed(m, ValueReady(HEIGHT, 0, B)) == [Propose(HEIGHT, 0, NIL_ROUND, B)]
    assert feed(m, ValueReady(HEIGHT, 0, C)) == []  # one proposal per round
    assert (m.round, m.step) == (0, Step.PROPOSE)


def test_start_round_value_ready_after_leaving_propose_step_is_ignored() -> None:
    m = make_machine(proposer_key(0))
    m.start()
    assert feed(m, timeout(Step.PROPOSE, 0)) == [my_prevote(0, None)]
    assert feed(m, ValueReady(HEIGHT, 0, B)) == []


def test_start_round_proposer_with_locked_valid_value_reproposes_it_with_its_pol_round() -> None:
    me = proposer_key(1)
    assert me is not proposer_key(0)
    m = make_machine(me)
    m.start()
    assert feed(m, proposal(0, B)) == [my_prevote(0, B)]
    prevoters = [k for k in KEYS if k is not me]
    feed(m, *(prevote(k, 0, B) for k in prevoters))
    assert (m.locked_value, m.locked_round, m.valid_value, m.valid_round) == (B, 0, B, 0)
    assert feed(m, timeout(Step.PRECOMMIT, 0)) == [
        RoundStarted(HEIGHT, 1),
        Propose(HEIGHT, 1, 0, B),
        sched(Step.PROPOSE, 1),
    ]
    assert (m.round, m.step) == (1, Step.PROPOSE)


def test_start_round_proposer_reproposes_valid_value_even_when_not_locked() -> None:
    """valid_value set by L36 in the precommit step (after L61) without a lock."""
    me = proposer_key(1)
    m = make_machine(me)
    m.start()
    others = [k for k in KEYS if k is not me]
    feed(
        m, proposal(0, B), prevote(me, 0, B), prevote(others[0], 0, B), prevote(others[1], 0, None)
    )
    assert feed(m, timeout(Step.PREVOTE, 0)) == [my_precommit(0, None)]
    feed(m, prevote(others[2], 0, B))
    assert (m.locked_value, m.locked_round) == (None, NIL_ROUND)
    assert (m.valid_value, m.valid_round) == (B, 0)
    effects = advance(m)
    assert effects == [RoundStarted(HEIGHT, 1), Propose(HEIGHT, 1, 0, B), sched(Step.PROPOSE, 1)]


def test_start_round_non_proposer_schedules_growing_propose_timeout() -> None:
    m = make_machine()
    assert m.start() == [RoundStarted(HEIGHT, 0), ScheduleTimeout(Step.PROPOSE, HEIGHT, 0, 1000)]
    assert advance(m) == [RoundStarted(HEIGHT, 1), ScheduleTimeout(Step.PROPOSE, HEIGHT, 1, 1100)]
    assert advance(m) == [RoundStarted(HEIGHT, 2), ScheduleTimeout(Step.PROPOSE, HEIGHT, 2, 1200)]
    assert m.step == Step.PROPOSE


# ---- L22: fresh proposal -------------------------------------------------------------------


def test_l22_valid_fresh_proposal_while_unlocked_prevotes_it(m: HeightMachine) -> None:
    assert feed(m, proposal(0, B)) == [my_prevote(0, B)]
    assert m.step == Step.PREVOTE
    assert (m.locked_round, m.locked_value) == (NIL_ROUND, None)


def test_l22_invalid_fresh_proposal_prevotes_nil(m: HeightMachine) -> None:
    assert feed(m, proposal(0, B, valid=False)) == [my_prevote(0, None)]
    assert m.step == Step.PREVOTE


def test_l22_locked_on_another_value_prevotes_nil(m: HeightMachine) -> None:
    lock_current_round(m, B)
    advance(m)
    assert feed(m, proposal(1, C)) == [my_prevote(1, None)]
    assert (m.locked_value, m.locked_round) == (B, 0)


def test_l22_locked_on_the_same_value_prevotes_it(m: HeightMachine) -> None:
    lock_current_round(m, B)
    advance(m)
    assert feed(m, proposal(1, B)) == [my_prevote(1, B)]
    assert (m.locked_value, m.locked_round) == (B, 0)


def test_l22_only_in_the_propose_step(m: HeightMachine) -> None:
    assert feed(m, timeout(Step.PROPOSE, 0)) == [my_prevote(0, None)]
    assert feed(m, proposal(0, B)) == []  # already prevoted this round


def test_l22_proposal_whose_batch_does_not_match_its_id_is_ignored(m: HeightMachine) -> None:
    signed = sign_proposal(proposer_key(0), CHAIN, HEIGHT, 0, NIL_ROUND, B.id)
    assert feed(m, ProposalReceived(signed, C, True)) == []
    assert m.step == Step.PROPOSE


def test_l22_proposal_for_another_height_is_ignored(m: HeightMachine) -> None:
    assert feed(m, proposal(0, B, height=HEIGHT + 1)) == []
    assert m.step == Step.PROPOSE


# ---- L28: re-proposal with a proof-of-lock round ---------------------------------------------


def test_l28_unlocked_prevotes_reproposal_once_its_pol_quorum_arrives(m: HeightMachine) -> None:
    advance(m)
    assert feed(m, proposal(1, B, pol_round=0)) == []
    assert feed(m, prevote(OTHERS[0], 0, B), prevote(OTHERS[1], 0, B)) == []
    assert feed(m, prevote(OTHERS[2], 0, B)) == [my_prevote(1, B)]
    assert m.step == Step.PREVOTE


def test_l28_without_pol_quorum_no_rule_fires_and_timeout_prevotes_nil(m: HeightMachine) -> None:
    advance(m)
    effects = feed(
        m,
        proposal(1, B, pol_round=0),
        prevote(OTHERS[0], 0, B),
        prevote(OTHERS[1], 0, B),
        prevote(OTHERS[2], 0, None),
    )
    assert effects == []
    assert m.step == Step.PROPOSE
    assert feed(m, timeout(Step.PROPOSE, 1)) == [my_prevote(1, None)]


def test_l28_quorum_for_another_value_in_pol_round_does_not_fire(m: HeightMachine) -> None:
    advance(m)
    assert feed(m, proposal(1, B, pol_round=0), *(prevote(k, 0, C) for k in OTHERS)) == []
    assert m.step == Step.PROPOSE


def test_l28_pol_quorum_in_another_round_does_not_fire(m: HeightMachine) -> None:
    advance(m)
    advance(m)
    feed(m, *(prevote(k, 0, B) for k in OTHERS))
    assert feed(m, proposal(2, B, pol_round=1)) == []
    assert m.step == Step.PROPOSE


def test_l28_locked_in_the_pol_round_on_another_value_prevotes_it(m: HeightMachine) -> None:
    """locked_round == vr is enough (lockedRound <= vr), even locked on another value. Both
    quorums in round 0 need equivocators, which are counted for both values."""
    lock_current_round(m, C)
    feed(m, *(prevote(k, 0, B) for k in OTHERS))
    advance(m)
    assert feed(m, proposal(1, B, pol_round=0)) == [my_prevote(1, B)]


def test_l28_locked_in_an_earlier_round_than_pol_prevotes_it(m: HeightMachine) -> None:
    lock_current_round(m, C)
    advance(m)
    feed(m, *(prevote(k, 1, B) for k in OTHERS))
    assert m.locked_value == C
    advance(m)
    assert feed(m, proposal(2, B, pol_round=1)) == [my_prevote(2, B)]


def test_l28_locked_later_than_pol_on_the_same_value_prevotes_it(m: HeightMachine) -> None:
    feed(m, *(prevote(k, 0, B) for k in OTHERS))  # the POL for B in round 0
    advance(m)
    lock_current_round(m, B)  # locked in round 1
    advance(m)
    assert feed(m, proposal(2, B, pol_round=0)) == [my_prevote(2, B)]
    assert (m.locked_value, m.locked_round) == (B, 1)


def test_l28_locked_later_than_pol_on_another_value_prevotes_nil(m: HeightMachine) -> None:
    feed(m, *(prevote(k, 0, B) for k in OTHERS))
    advance(m)
    lock_current_round(m, C)  # locked on C in round 1 > vr = 0
    advance(m)
    assert feed(m, proposal(2, B, pol_round=0)) == [my_prevote(2, None)]
    assert (m.locked_value, m.locked_round) == (C, 1)


def test_l28_invalid_reproposal_with_pol_quorum_prevotes_nil(m: HeightMachine) -> None:
    feed(m, *(prevote(k, 0, B) for k in OTHERS))
    advance(m)
    assert feed(m, proposal(1, B, pol_round=0, valid=False)) == [my_prevote(1, None)]


# ---- L34: prevote timeout ------------------------------------------------------------------


def test_l34_mixed_prevote_quorum_schedules_prevote_timeout_once(m: HeightMachine) -> None:
    assert feed(m, proposal(0, B)) == [my_prevote(0, B)]
    assert feed(m, prevote(OTHERS[0], 0, B), prevote(OTHERS[1], 0, None)) == []
    assert feed(m, prevote(OTHERS[2], 0, C)) == [sched(Step.PREVOTE, 0)]
    assert feed(m, prevote(ME, 0, B)) == []
    assert m.step == Step.PREVOTE


def test_l34_waits_for_the_prevote_step(m: HeightMachine) -> None:
    mixed = [prevote(OTHERS[0], 0, B), prevote(OTHERS[1], 0, None), prevote(OTHERS[2], 0, C)]
    assert feed(m, *mixed) == []
    assert feed(m, timeout(Step.PROPOSE, 0)) == [my_prevote(0, None), sched(Step.PREVOTE, 0)]


def test_l34_uses_the_round_in_the_timeout(m: HeightMachine) -> None:
    advance(m)
    feed(m, timeout(Step.PROPOSE, 1))
    effects = feed(m, prevote(OTHERS[0], 1, B), prevote(OTHERS[1], 1, None), prevote(ME, 1, C))
    assert effects == [ScheduleTimeout(Step.PREVOTE, HEIGHT, 1, 330)]


# ---- L36: lock and precommit -----------------------------------------------------------------


def test_l36_quorum_for_the_proposal_locks_and_precommits(m: HeightMachine) -> None:
    feed(m, proposal(0, B))
    assert feed(m, prevote(OTHERS[0], 0, B), prevote(OTHERS[1], 0, B)) == []
    assert feed(m, prevote(OTHERS[2], 0, B)) == [sched(Step.PREVOTE, 0), my_precommit(0, B)]
    assert m.step == Step.PRECOMMIT
    assert (m.locked_value, m.locked_round) == (B, 0)
    assert (m.valid_value, m.valid_round) == (B, 0)
    assert feed(m, prevote(ME, 0, B)) == []  # once per round


def test_l36_late_proposal_still_locks_in_prevote_step(m: HeightMachine) -> None:
    assert feed(m, timeout(Step.PROPOSE, 0)) == [my_prevote(0, None)]
    assert feed(m, *(prevote(k, 0, B) for k in OTHERS)) == [sched(Step.PREVOTE, 0)]
    assert m.locked_value is None
    assert feed(m, proposal(0, B)) == [my_precommit(0, B)]
    assert (m.locked_value, m.locked_round, m.valid_value, m.valid_round) == (B, 0, B, 0)


def test_l36_in_precommit_step_after_l61_only_updates_valid(m: HeightMachine) -> None:
    feed(m, proposal(0, B), prevote(ME, 0, B), prevote(OTHERS[0], 0, B))
    assert feed(m, prevote(OTHERS[1], 0, None)) == [sched(Step.PREVOTE, 0)]
    assert feed(m, timeout(Step.PREVOTE, 0)) == [my_precommit(0, None)]
    assert feed(m, prevote(OTHERS[2], 0, B)) == []
    assert (m.valid_value, m.valid_round) == (B, 0)
    assert (m.locked_value, m.locked_round) == (None, NIL_ROUND)
    assert m.step == Step.PRECOMMIT


def test_l36_in_precommit_step_after_l44_only_updates_valid(m: HeightMachine) -> None:
    feed(m, proposal(0, B), prevote(ME, 0, B))
    nils = [prevote(k, 0, None) for k in OTHERS]
    assert feed(m, *nils) == [sched(Step.PREVOTE, 0), my_precommit(0, None)]
    # Two equivocators add B prevotes: B now has ME + 2 = a quorum as well.
    second = [prevote(k, 0, B) for k in OTHERS[:2]]
    evidence = [
        ReportEvidence(make_evidence(a.vote, b.vote)) for a, b in zip(nils[:2], second, strict=True)
    ]
    assert feed(m, *second) == evidence
    assert (m.valid_value, m.valid_round) == (B, 0)
    assert (m.locked_value, m.locked_round) == (None, NIL_ROUND)


def test_l36_invalid_proposal_is_not_locked(m: HeightMachine) -> None:
    assert feed(m, proposal(0, B, valid=False)) == [my_prevote(0, None)]
    assert feed(m, *(prevote(k, 0, B) for k in OTHERS)) == [sched(Step.PREVOTE, 0)]
    assert (m.locked_value, m.valid_value, m.step) == (None, None, Step.PREVOTE)


def test_l36_quorum_for_a_value_other_than_the_proposal_is_not_locked(m: HeightMachine) -> None:
    feed(m, proposal(0, B))
    assert feed(m, *(prevote(k, 0, C) for k in OTHERS)) == [sched(Step.PREVOTE, 0)]
    assert (m.locked_value, m.valid_value, m.step) == (None, None, Step.PREVOTE)


def test_l36_quorum_in_a_past_round_does_not_lock(m: HeightMachine) -> None:
    feed(m, proposal(0, B))
    advance(m)
    feed(m, timeout(Step.PROPOSE, 1))
    assert feed(m, *(prevote(k, 0, B) for k in OTHERS)) == []
    assert (m.locked_value, m.valid_value) == (None, None)


# ---- L44: precommit nil ----------------------------------------------------------------------


def test_l44_nil_prevote_quorum_precommits_nil(m: HeightMachine) -> None:
    assert feed(m, timeout(Step.PROPOSE, 0)) == [my_prevote(0, None)]
    assert feed(m, prevote(OTHERS[0], 0, None), prevote(OTHERS[1], 0, None)) == []
    assert feed(m, prevote(OTHERS[2], 0, None)) == [sched(Step.PREVOTE, 0), my_precommit(0, None)]
    assert m.step == Step.PRECOMMIT
    assert m.locked_value is None


def test_l44_waits_for_the_prevote_step(m: HeightMachine) -> None:
    assert feed(m, *(prevote(k, 0, None) for k in OTHERS)) == []
    assert feed(m, timeout(Step.PROPOSE, 0)) == [
        my_prevote(0, None),
        sched(Step.PREVOTE, 0),
        my_precommit(0, None),
    ]


# ---- L47: precommit timeout ------------------------------------------------------------------


def test_l47_mixed_precommit_quorum_schedules_precommit_timeout_once(m: HeightMachine) -> None:
    assert feed(m, precommit(OTHERS[0], 0, B), precommit(OTHERS[1], 0, None)) == []
    assert feed(m, precommit(OTHERS[2], 0, C)) == [sched(Step.PRECOMMIT, 0)]
    assert feed(m, precommit(ME, 0, B)) == []
    assert (m.round, m.decision) == (0, None)
    assert advance(m)[0] == RoundStarted(HEIGHT, 1)


def test_l47_round_of_timeout_follows_current_round(m: HeightMachine) -> None:
    advance(m)
    advance(m)
    effects = feed(m, precommit(OTHERS[0], 2, B), precommit(OTHERS[1], 2, None))
    assert effects == []
    effects = feed(m, precommit(OTHERS[2], 2, C))
    assert effects == [ScheduleTimeout(Step.PRECOMMIT, HEIGHT, 2, 240)]


def test_a_quorum_of_nil_precommits_starts_the_next_round_without_the_timeout(
    m: HeightMachine,
) -> None:
    """No value can be decided in a round with a quorum of nil precommits: waiting
    timeoutPrecommit there only made every failed round (a censor's one) cost a timeout."""
    lock_current_round(m, B)
    effects = feed(m, *(precommit(k, 0, None) for k in OTHERS))
    assert effects[0] == RoundStarted(HEIGHT, 1)
    assert sched(Step.PRECOMMIT, 0) not in effects
    assert (m.round, m.step, m.locked_value, m.locked_round) == (1, Step.PROPOSE, B, 0)
    assert m.decision is None
    assert feed(m, timeout(Step.PRECOMMIT, 0)) == []  # the stale timeout does nothing


def test_nil_precommits_short_of_a_quorum_wait_for_the_timeout(m: HeightMachine) -> None:
    lock_current_round(m, B)
    nils = (precommit(k, 0, None) for k in OTHERS[:2])
    assert feed(m, precommit(ME, 0, B), *nils) == [sched(Step.PRECOMMIT, 0)]
    assert m.round == 0


# ---- L49: decide -----------------------------------------------------------------------------


def test_l49_precommit_quorum_with_proposal_decides_with_valid_certificate(
    m: HeightMachine,
) -> None:
    feed(m, proposal(0, B), precommit(ME, 0, None))
    assert feed(m, precommit(OTHERS[0], 0, B)) == []
    assert feed(m, precommit(OTHERS[1], 0, B)) == [sched(Step.PRECOMMIT, 0)]  # L47, not L49
    effects = feed(m, precommit(OTHERS[2], 0, B))
    assert effects == [Decide(B, expected_certificate(0, B, OTHERS))]
    cert = effects[0].certificate
    VS.verify_certificate(cert, CHAIN)
    assert (cert.height, cert.round, cert.batch_id, len(cert.signatures)) == (HEIGHT, 0, B.id, 3)
    assert [s.validator for s in cert.signatures] == sorted(k.public_key for k in OTHERS)
    with pytest.raises(ValueError):
        VS.verify_certificate(cert, "another-chain")
    assert m.decision == B


def test_l49_decides_for_an_earlier_round(m: HeightMachine) -> None:
    advance(m)
    advance(m)
    assert feed(m, proposal(0, B)) == []
    effects = feed(m, *(precommit(k, 0, B) for k in OTHERS))
    assert effects == [Decide(B, expected_certificate(0, B, OTHERS))]
    VS.verify_certificate(effects[0].certificate, CHAIN)
    assert m.decision == B


def test_l49_not_without_the_proposal(m: HeightMachine) -> None:
    assert feed(m, *(precommit(k, 0, B) for k in OTHERS)) == [sched(Step.PRECOMMIT, 0)]
    assert m.decision is None
    feed(m, proposal(0, C, key=NON_PROPOSERS_0[0]))  # a non-proposer's word does not count
    assert m.decision is None
    effects = feed(m, proposal(0, B))
    assert len(effects) == 1 and isinstance(effects[0], Decide)
    assert m.decision == B


def test_l49_not_when_the_proposal_is_for_another_value(m: HeightMachine) -> None:
    feed(m, proposal(0, C))
    assert feed(m, *(precommit(k, 0, B) for k in OTHERS)) == [sched(Step.PRECOMMIT, 0)]
    assert m.decision is None


def test_l49_not_when_the_proposal_is_invalid(m: HeightMachine) -> None:
    feed(m, proposal(0, B, valid=False))
    assert feed(m, *(precommit(k, 0, B) for k in OTHERS)) == [sched(Step.PRECOMMIT, 0)]
    assert m.decision is None


def test_l49_nothing_happens_after_the_decision(m: HeightMachine) -> None:
    feed(m, proposal(0, B), *(precommit(k, 0, B) for k in OTHERS))
    assert m.decision == B
    state = (m.round, m.step, m.locked_round, m.valid_round)
    after = feed(
        m,
        timeout(Step.PROPOSE, 0),
        timeout(Step.PRECOMMIT, 0),
        prevote(OTHERS[0], 5, None),
        prevote(OTHERS[1], 5, None),
        prevote(OTHERS[0], 0, C),  # would be equivocation evidence
        proposal(0, C),  # would be a duplicate proposal
        precommit(ME, 0, B),
    )
    assert after == []
    assert (m.round, m.step, m.locked_round, m.valid_round) == state
    assert m.decision == B


# ---- L55: round skip -------------------------------------------------------------------------


def test_l55_more_than_a_third_in_a_higher_round_skips_to_it(m: HeightMachine) -> None:
    assert feed(m, prevote(OTHERS[0], 2, None)) == []
    assert feed(m, precommit(OTHERS[1], 2, None)) == [
        RoundStarted(HEIGHT, 2),
        sched(Step.PROPOSE, 2),
    ]
    assert (m.round, m.step) == (2, Step.PROPOSE)


def test_l55_one_sender_with_several_messages_counts_once(m: HeightMachine) -> None:
    assert feed(m, prevote(OTHERS[0], 2, None), precommit(OTHERS[0], 2, B)) == []
    assert feed(m, prevote(OTHERS[0], 2, B)) == [
        ReportEvidence(
            make_evidence(prevote(OTHERS[0], 2, None).vote, prevote(OTHERS[0], 2, B).vote)
        )
    ]
    assert m.round == 0


def test_l55_exactly_a_third_does_not_skip() -> None:
    powers = [10, 10, 5, 5]  # total 30: a third is exactly 10
    vs = ValidatorSet(
        Validator(f"v{i}", k.public_key, p)
        for i, (k, p) in enumerate(zip(KEYS, powers, strict=True))
    )
    me = KEYS[0]
    m = make_machine(me, validators=vs)
    m.start()
    r = next(r for r in range(1, 10) if vs.proposer_for_round(r).public_key != me.public_key)
    assert feed(m, prevote(KEYS[2], r, None), prevote(KEYS[3], r, None)) == []  # 5 + 5 = 10
    assert m.round == 0
    m2 = make_machine(me, validators=vs)
    m2.start()
    assert feed(m2, prevote(KEYS[1], r, None)) == []  # 10 alone: exactly a third
    effects = feed(m2, prevote(KEYS[3], r, None))  # 15 > 10
    assert effects[0] == RoundStarted(HEIGHT, r)
    assert m2.round == r
    assert feed(m, prevote(KEYS[1], r, None))[0] == RoundStarted(HEIGHT, r)  # 20 > 10


def test_l55_a_proposal_counts_as_a_message_and_is_then_acted_on(m: HeightMachine) -> None:
    other = next(k for k in OTHERS if k is not proposer_key(2))
    assert feed(m, proposal(2, B)) == []
    assert feed(m, prevote(other, 2, None)) == [
        RoundStarted(HEIGHT, 2),
        sched(Step.PROPOSE, 2),
        my_prevote(2, B),
    ]


def test_l55_never_goes_back_to_a_lower_round(m: HeightMachine) -> None:
    advance(m)
    advance(m)
    assert feed(m, *(prevote(k, 1, None) for k in OTHERS)) == []
    assert feed(m, *(precommit(k, 0, None) for k in OTHERS)) == []
    assert (m.round, m.step) == (2, Step.PROPOSE)


# ---- L57 / L61 / L65: timeouts ---------------------------------------------------------------


def test_l57_propose_timeout_prevotes_nil_only_for_current_round_and_step(
    m: HeightMachine,
) -> None:
    advance(m)
    assert feed(m, timeout(Step.PROPOSE, 0)) == []  # older round
    assert feed(m, timeout(Step.PROPOSE, 2)) == []  # future round
    assert feed(m, timeout(Step.PROPOSE, 1, height=HEIGHT + 1)) == []  # other height
    assert feed(m, timeout(Step.PROPOSE, 1, height=HEIGHT - 1)) == []
    assert m.step == Step.PROPOSE
    assert feed(m, timeout(Step.PROPOSE, 1)) == [my_prevote(1, None)]
    assert m.step == Step.PREVOTE
    assert feed(m, timeout(Step.PROPOSE, 1)) == []  # wrong step now


def test_l61_prevote_timeout_precommits_nil_only_for_current_round_and_step(
    m: HeightMachine,
) -> None:
    advance(m)
    assert feed(m, timeout(Step.PREVOTE, 1)) == []  # still in propose step
    feed(m, timeout(Step.PROPOSE, 1))
    assert m.step == Step.PREVOTE
    assert feed(m, timeout(Step.PREVOTE, 0)) == []
    assert feed(m, timeout(Step.PREVOTE, 2)) == []
    assert feed(m, timeout(Step.PREVOTE, 1, height=HEIGHT + 1)) == []
    assert m.step == Step.PREVOTE
    assert feed(m, timeout(Step.PREVOTE, 1)) == [my_precommit(1, None)]
    assert m.step == Step.PRECOMMIT
    assert feed(m, timeout(Step.PREVOTE, 1)) == []  # wrong step now


def test_l65_precommit_timeout_starts_next_round_only_for_current_round(
    m: HeightMachine,
) -> None:
    advance(m)
    assert feed(m, timeout(Step.PRECOMMIT, 0)) == []
    assert feed(m, timeout(Step.PRECOMMIT, 2)) == []
    assert feed(m, timeout(Step.PRECOMMIT, 1, height=HEIGHT + 1)) == []
    assert m.round == 1
    assert feed(m, timeout(Step.PRECOMMIT, 1)) == [RoundStarted(HEIGHT, 2), sched(Step.PROPOSE, 2)]
    assert (m.round, m.step) == (2, Step.PROPOSE)


def test_l65_after_a_real_round_keeps_lock_and_valid(m: HeightMachine) -> None:
    lock_current_round(m, B)
    others = (precommit(ME, 0, B), precommit(OTHERS[0], 0, None), precommit(OTHERS[1], 0, C))
    assert feed(m, *others) == [sched(Step.PRECOMMIT, 0)]
    assert feed(m, timeout(Step.PRECOMMIT, 0)) == [RoundStarted(HEIGHT, 1), sched(Step.PROPOSE, 1)]
    assert (m.round, m.step, m.locked_value, m.locked_round) == (1, Step.PROPOSE, B, 0)
    assert (m.valid_value, m.valid_round) == (B, 0)
    assert m.decision is None


# ---- lock and unlock across rounds -----------------------------------------------------------


def test_lock_then_unlock_by_a_newer_pol(m: HeightMachine) -> None:
    v, w = B, batch("w", round=1)
    # Round 0: lock v.
    assert feed(m, proposal(0, v)) == [my_prevote(0, v)]
    assert feed(m, *(prevote(k, 0, v) for k in OTHERS))[-1] == my_precommit(0, v)
    assert (m.locked_value, m.locked_round) == (v, 0)
    advance(m)
    # Round 1: a fresh w is refused because of the lock.
    assert feed(m, proposal(1, w)) == [my_prevote(1, None)]
    advance(m)
    # Round 2: the round-1 prevotes for w arrive late, then w is re-proposed with POL round 1.
    assert feed(m, *(prevote(k, 1, w) for k in OTHERS)) == []
    assert (m.locked_value, m.locked_round) == (v, 0)
    assert feed(m, proposal(2, w, pol_round=1)) == [my_prevote(2, w)]
    assert feed(m, *(prevote(k, 2, w) for k in OTHERS)) == [
        sched(Step.PREVOTE, 2),
        my_precommit(2, w),
    ]
    assert (m.locked_value, m.locked_round) == (w, 2)
    assert (m.valid_value, m.valid_round) == (w, 2)


# ---- equivocation, foreign and out-of-range messages -----------------------------------------


def test_two_different_prevotes_from_one_validator_are_evidence(m: HeightMachine) -> None:
    bad = OTHERS[0]
    first, second = prevote(bad, 0, B), prevote(bad, 0, None)
    assert feed(m, first) == []
    effects = feed(m, second)
    assert len(effects) == 1 and isinstance(effects[0], ReportEvidence)
    evidence = effects[0].evidence
    assert isinstance(evidence, DuplicateVote)
    assert evidence.verify(CHAIN)
    assert evidence.offender == bad.public_key
    assert {evidence.first, evidence.second} == {first.vote, second.vote}
    # Counted for both values, once in the total.
    assert m.votes.power_for(0, VoteKind.PREVOTE, B.id) == 10
    assert m.votes.power_for(0, VoteKind.PREVOTE, None) == 10
    assert m.votes.total(0, VoteKind.PREVOTE) == 10


def test_two_different_precommits_from_one_validator_are_evidence(m: HeightMachine) -> None:
    bad = OTHERS[1]
    effects = feed(m, precommit(bad, 0, B), precommit(bad, 0, C))
    assert len(effects) == 1
    evidence = effects[0].evidence
    assert isinstance(evidence, DuplicateVote) and evidence.verify(CHAIN)
    assert evidence.first.kind == VoteKind.PRECOMMIT


def test_identical_vote_twice_is_counted_once_without_evidence(m: HeightMachine) -> None:
    again = prevote(OTHERS[0], 0, B)
    assert feed(m, again, again, again) == []
    assert m.votes.total(0, VoteKind.PREVOTE) == 10
    assert m.votes.power_for(0, VoteKind.PREVOTE, B.id) == 10
    # ... so with one more voter there is still no quorum.
    feed(m, proposal(0, B), prevote(OTHERS[1], 0, B), prevote(OTHERS[1], 0, B))
    assert m.step == Step.PREVOTE and m.locked_value is None


def test_two_different_proposals_from_the_proposer_are_evidence(m: HeightMachine) -> None:
    first, second = proposal(0, B), proposal(0, C)
    assert feed(m, first) == [my_prevote(0, B)]
    effects = feed(m, second)
    assert len(effects) == 1 and isinstance(effects[0], ReportEvidence)
    evidence = effects[0].evidence
    assert isinstance(evidence, DuplicateProposal)
    assert evidence.verify(CHAIN)
    assert evidence.offender == proposer_key(0).public_key
    assert {evidence.first, evidence.second} == {first.proposal, second.proposal}
    assert feed(m, proposal(0, B)) == []  # the same proposal again is no evidence
    # The first proposal is the one kept: a quorum for C locks nothing.
    assert feed(m, *(prevote(k, 0, C) for k in OTHERS)) == [sched(Step.PREVOTE, 0)]
    assert m.locked_value is None


def test_proposal_from_a_non_proposer_is_ignored(m: HeightMachine) -> None:
    assert feed(m, proposal(0, B, key=NON_PROPOSERS_0[0])) == []
    assert m.step == Step.PROPOSE
    assert feed(m, *(precommit(k, 0, B) for k in OTHERS)) == [sched(Step.PRECOMMIT, 0)]
    assert m.decision is None
    # ... nor does it count towards a round skip.
    r2 = [k for k in OTHERS if k is not proposer_key(2)]
    assert feed(m, proposal(2, C, key=r2[0])) == []
    assert feed(m, prevote(r2[1], 2, None)) == []
    assert m.round == 0


def test_votes_from_unknown_keys_are_ignored(m: HeightMachine) -> None:
    feed(m, proposal(0, B))
    assert feed(m, *(prevote(k, 0, B) for k in STRANGERS)) == []
    assert feed(m, *(precommit(k, 0, B) for k in STRANGERS)) == []
    assert feed(m, *(prevote(k, 3, None) for k in STRANGERS)) == []
    assert (m.round, m.step, m.locked_value, m.decision) == (0, Step.PREVOTE, None, None)
    assert m.votes.total(0, VoteKind.PREVOTE) == 0


def test_votes_for_another_height_are_ignored(m: HeightMachine) -> None:
    feed(m, proposal(0, B))
    assert feed(m, *(prevote(k, 0, B, height=HEIGHT + 1) for k in OTHERS)) == []
    assert feed(m, *(precommit(k, 0, B, height=HEIGHT + 1) for k in OTHERS)) == []
    assert (m.step, m.locked_value, m.decision) == (Step.PREVOTE, None, None)


def test_votes_beyond_max_round_skew_are_ignored() -> None:
    config = ConsensusConfig(CHAIN, TIMEOUTS, max_round_skew=2)
    m = make_machine(config=config)
    m.start()
    assert feed(m, prevote(OTHERS[0], 3, None), prevote(OTHERS[1], 3, None)) == []
    assert m.votes.total(3, VoteKind.PREVOTE) == 0
    assert feed(m, proposal(3, B), prevote(OTHERS[0], 2, None)) == []
    assert m.round == 0
    assert feed(m, prevote(OTHERS[1], 2, None)) == [RoundStarted(HEIGHT, 2), sched(Step.PROPOSE, 2)]
    # The window moves with the round: round 3 is now in range.
    effects = feed(m, prevote(OTHERS[0], 3, None), prevote(OTHERS[1], 3, None))
    # ME proposes round 3; the round-3 proposal seen out of range was dropped, so no prevote.
    assert proposer_key(3) is ME
    assert effects == [RoundStarted(HEIGHT, 3), GetValue(HEIGHT, 3), sched(Step.PROPOSE, 3)]
    assert m.round == 3


def test_observer_emits_no_votes_but_decides() -> None:
    m = make_machine(None)
    assert m.start() == [RoundStarted(HEIGHT, 0)]
    assert feed(m, proposal(0, B), timeout(Step.PROPOSE, 0)) == []
    effects = feed(m, *(precommit(k, 0, B) for k in KEYS[:3]))
    assert effects == [Decide(B, expected_certificate(0, B, KEYS[:3]))]


# ---- driver ----------------------------------------------------------------------------------


def test_driver_ignores_inputs_for_other_heights() -> None:
    d = Driver(CONFIG, ME.public_key)
    assert d.height == 0
    assert d.step(proposal(0, B)) == []  # nothing started yet
    assert d.start_height(HEIGHT, VS) == [RoundStarted(HEIGHT, 0), sched(Step.PROPOSE, 0)]
    assert d.height == HEIGHT
    assert d.step(proposal(0, B, height=HEIGHT + 1)) == []
    assert d.step(prevote(OTHERS[0], 0, None, height=HEIGHT + 1)) == []
    assert d.step(timeout(Step.PROPOSE, 0, height=HEIGHT + 1)) == []
    assert d.step(ValueReady(HEIGHT + 1, 0, B)) == []
    assert d.machine is not None and d.machine.step == Step.PROPOSE
    assert d.step(proposal(0, B)) == [my_prevote(0, B)]


def test_driver_start_height_refuses_going_backwards() -> None:
    d = Driver(CONFIG, ME.public_key)
    d.start_height(2, VS)
    with pytest.raises(ValueError):
        d.start_height(2, VS)
    with pytest.raises(ValueError):
        d.start_height(1, VS)
    assert d.height == 2
    effects = d.start_height(3, VS)
    assert effects[0] == RoundStarted(3, 0)
    assert d.height == 3


# ---- the consensus dump (`status --consensus`) -----------------------------------------------


def test_driver_dump_shows_votes_lock_valid_value_and_equivocation() -> None:
    driver = Driver(CONFIG, ME.public_key)
    assert driver.dump() is None  # before the first height
    driver.start_height(HEIGHT, VS)
    for event in (proposal(0, B), *(prevote(k, 0, B) for k in OTHERS)):
        driver.step(event)
    cheat = OTHERS[0]
    driver.step(precommit(cheat, 0, B))
    driver.step(precommit(cheat, 0, C))  # equivocation: both are kept, both shown
    dump = driver.dump()
    assert dump is not None
    name = {v.public_key: v.name for v in VS.validators}
    short = B.id.hex()[:16]
    assert (dump["height"], dump["round"], dump["step"]) == (HEIGHT, 0, "precommit")
    assert dump["me"] == name[ME.public_key] and dump["total_power"] == 40
    assert dump["locked"] == {"round": 0, "batch": short} == dump["valid"]
    assert dump["decided"] is None and dump["rounds_left_out"] == 0
    assert [v["name"] for v in dump["validators"]] == [v.name for v in VS.validators]
    [r0] = dump["rounds"]
    assert r0["proposer"] == name[proposer_key(0).public_key]
    assert r0["proposal"] == {
        "batch": short,
        "pol_round": NIL_ROUND,
        "valid": True,
        "acceptable": True,
    }
    assert r0["prevotes"] == {name[k.public_key]: [short] for k in OTHERS}
    assert r0["precommits"] == {name[cheat.public_key]: [short, C.id.hex()[:16]]}
    assert (r0["prevote_power"], r0["precommit_power"]) == (30, 10)
    # What `status --consensus` prints of it, with the node's timers and fault state.
    node = {"name": "v", "chain_id": CHAIN, "last_height": 0, "last_commit_age_ms": 1500}
    timer = {"step": "precommit", "height": HEIGHT, "round": 0, "remaining_ms": 90}
    out = io.StringIO()
    page = {**node, "consensus": dump, "timers": [timer], "faults": [], "partitioned_from": []}
    Console(file=out, width=120, color_system=None).print(render(page))
    text = out.getvalue()
    assert f"height {HEIGHT}, round 0, step precommit; last commit 1.5 s ago" in text
    assert f"locked: {short} (round 0)   valid: {short} (round 0)" in text
    assert "timeouts running: precommit h1 r0 (90 ms left)" in text
    assert f"{short} + {C.id.hex()[:16]} (equivocated)" in text
    assert "prevote (30/40)" in text and "precommit (10/40)" in text


def test_driver_dump_keeps_the_latest_rounds_only() -> None:
    driver = Driver(CONFIG, ME.public_key)
    driver.start_height(HEIGHT, VS)
    last = DUMP_ROUNDS + 4
    for r in range(last + 1):
        driver.step(prevote(OTHERS[0], r, None))
    dump = driver.dump()
    assert dump is not None
    assert [r["round"] for r in dump["rounds"]][-1] == last
    assert len(dump["rounds"]) == DUMP_ROUNDS
    assert dump["rounds_left_out"] == last + 1 - DUMP_ROUNDS
    voter = next(v.name for v in VS.validators if v.public_key == OTHERS[0].public_key)
    assert all(r["prevotes"] == {voter: ["nil"]} for r in dump["rounds"])
