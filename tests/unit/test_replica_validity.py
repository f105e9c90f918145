"""The replica's pure rules, without a replica: the paper's valid(v) over a ChainView, and
what a committed batch does to the next height's validator set."""

from __future__ import annotations

from dataclasses import replace

from sequencer_net import codec
from sequencer_net.censorship import Limits
from sequencer_net.chunks import certify, sign_ack
from sequencer_net.crypto import PrivateKey
from sequencer_net.genesis import ChainParams, Genesis
from sequencer_net.namespaces import table_of
from sequencer_net.replica import advance, genesis_state
from sequencer_net.replica.batches import build_batch
from sequencer_net.replica.validity import ChainView, batch_problem, proposal_problem
from sequencer_net.types import (
    NIL_ROUND,
    Certificate,
    Chunk,
    ChunkCertificate,
    CommitSig,
    DuplicateVote,
    Proposal,
    Tx,
    VoteKind,
    make_evidence,
    sign_vote,
)
from sequencer_net.validators import Validator

CHAIN = "validity"
KEYS = [PrivateKey.from_label(f"validity-{i}") for i in range(4)]
GENESIS = Genesis(
    CHAIN,
    tuple(Validator(f"n{i}", k.public_key, 10) for i, k in enumerate(KEYS)),
    params=ChainParams(reputation_window=5),
)
TX = codec.encode(Tx("app", "alice", b"pay bob"))


def certified(signers: range = range(2), seq: int = 0) -> ChunkCertificate:
    """A certificate of a chunk holding TX, from the acks of ``signers`` (10 stake each)."""
    chunk = Chunk(KEYS[0].public_key, seq, (TX,))
    acks = [sign_ack(KEYS[i], CHAIN, chunk, table_of(chunk)) for i in signers]
    sigs = sorted((CommitSig(a.validator, a.signature) for a in acks), key=lambda c: c.validator)
    return certify(acks[0], tuple(sigs), table_of(chunk))


CERT = certified()


def view(
    committed: frozenset[bytes] = frozenset(), known: frozenset[ChunkCertificate] = frozenset()
):
    return ChainView(
        chain_id=CHAIN,
        height=1,
        parent=None,
        validators=GENESIS.validator_set,
        previous=None,
        params=GENESIS.params,
        limits=Limits(chunks=4, txs=10, bytes=10_000),
        known=known.__contains__,
        committed=committed.__contains__,
    )


def batch(round: int = 0, chunks: tuple[ChunkCertificate, ...] = (), evidence=()):
    v = view()
    proposer = v.validators.proposer_for_round(round).public_key
    return build_batch(v, round, proposer, 1_000, chunks, tuple(evidence))


def test_a_batch_built_on_the_view_is_valid_and_its_flaws_are_named() -> None:
    good = batch(chunks=(CERT,))
    assert batch_problem(view(), good) is None
    wrong_height = replace(good, header=replace(good.header, height=2))
    assert batch_problem(view(), wrong_height) == "height 2, expected 1"
    assert batch_problem(view(), batch(chunks=(CERT, CERT))) == "duplicate chunk"
    other_set = replace(good, header=replace(good.header, validator_set_hash=bytes(32)))
    assert batch_problem(view(), other_set) == "validator set hash does not match"
    too_many = batch(chunks=tuple(certified(seq=i) for i in range(5)))
    assert batch_problem(view(), too_many) == "too many chunks"


def test_a_committed_chunk_is_refused() -> None:
    good = batch(chunks=(CERT,))
    assert batch_problem(view(committed=frozenset({CERT.digest})), good) == (
        "chunk already committed"
    )


def test_a_certificate_short_of_a_third_or_forged_is_refused_unless_already_verified() -> None:
    short = certified(signers=range(1))  # 10 of 40: not more than a third
    assert batch_problem(view(), batch(chunks=(short,))) == (
        "chunk certificate: acks hold a third of the stake or less"
    )
    sig = CERT.signatures[0]
    forged = replace(CERT, signatures=(replace(sig, signature=bytes(64)), *CERT.signatures[1:]))
    assert batch_problem(view(), batch(chunks=(forged,))) == (
        "chunk certificate: an ack signature does not verify"
    )
    (entry,) = CERT.namespaces
    more = replace(entry, tx_count=2)
    lied = replace(CERT, tx_count=2, namespaces=(more,))  # the acks signed one transaction
    assert batch_problem(view(), batch(chunks=(lied,))) == (
        "chunk certificate: an ack signature does not verify"
    )
    # One this node verified on arrival is not checked again.
    assert batch_problem(view(known=frozenset({short})), batch(chunks=(short,))) is None


def test_a_fresh_proposal_must_carry_a_batch_of_its_own_round() -> None:
    old = batch(round=0)
    proposer = GENESIS.validator_set.proposer_for_round(1).public_key
    proposal = Proposal(1, 1, NIL_ROUND, old.id, proposer, bytes(64))
    problem = proposal_problem(view(), proposal, old)
    assert problem == "a fresh proposal must carry a batch built in its own round"


def test_advance_jails_the_offender_and_records_its_stake() -> None:
    offender = KEYS[3]
    a = sign_vote(offender, CHAIN, VoteKind.PREVOTE, 1, 0, b"\x01" * 32)
    b = sign_vote(offender, CHAIN, VoteKind.PREVOTE, 1, 0, None)
    evidence = make_evidence(a, b)
    assert isinstance(evidence, DuplicateVote)
    step = advance(genesis_state(GENESIS), batch(evidence=[evidence]), GENESIS.params)
    jailed = step.state.validators.get(offender.public_key)
    assert jailed is not None and jailed.jailed
    (record,) = step.slashes
    assert (record.stake_before, record.stake_after) == (10, jailed.power)
    assert jailed.power < 10
    assert step.state.height == 2 and step.state.previous is GENESIS.validator_set


def test_advance_passes_over_the_proposers_of_rounds_the_last_commit_says_failed() -> None:
    first = advance(genesis_state(GENESIS), batch(), GENESIS.params)
    assert first.failed == []
    previous = GENESIS.validator_set
    failed = [previous.proposer_for_round(r).public_key for r in range(1)]
    second = build_batch(
        replace(view(), height=2, validators=first.state.validators),
        0,
        first.state.validators.proposer_for_round(0).public_key,
        2_000,
        (),
        (),
    )
    header = replace(second.header, last_commit=Certificate(1, 1, bytes(32), ()))
    step = advance(first.state, replace(second, header=header), GENESIS.params)
    assert step.failed == failed
    assert step.state.failures == tuple((1, key) for key in failed)
    assert step.state.validators.skipped == frozenset(failed)
