"""Protocol data types: signing, verification, evidence and batch integrity."""

from __future__ import annotations

import dataclasses

import pytest
from helpers.chunks import certificate, chunk
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sequencer_net import codec
from sequencer_net.crypto import DIGEST_SIZE, PrivateKey, digest
from sequencer_net.types import (
    Batch,
    BatchHeader,
    Certificate,
    ChunkCertificate,
    CommitSig,
    DuplicateProposal,
    DuplicateVote,
    Proposal,
    Step,
    Tx,
    Vote,
    VoteKind,
    chunks_digest,
    evidence_digest,
    evidence_id,
    make_evidence,
    sign_proposal,
    sign_vote,
    tx_id,
)

FAST = settings(max_examples=40, deadline=None)

CHAIN = "test-chain"
KEYS = [PrivateKey.from_label(f"types-test-{i}") for i in range(4)]
keys = st.sampled_from(KEYS)
kinds = st.sampled_from(VoteKind)
heights = st.integers(1, 2**63)  # headroom for the +1 mutations below
rounds = st.integers(0, 2**32)
digests = st.binary(min_size=32, max_size=32)
values = st.none() | digests
txs = st.builds(
    Tx,
    namespace=st.text(min_size=1, max_size=16),
    sender=st.text(max_size=16),
    payload=st.binary(max_size=64),
)


@st.composite
def signed_votes(draw: st.DrawFn) -> Vote:
    return sign_vote(draw(keys), CHAIN, draw(kinds), draw(heights), draw(rounds), draw(values))


@st.composite
def signed_proposals(draw: st.DrawFn) -> Proposal:
    rnd = draw(rounds)
    pol = draw(st.integers(-1, rnd - 1))
    return sign_proposal(draw(keys), CHAIN, draw(heights), rnd, pol, draw(digests))


@st.composite
def conflicting_votes(draw: st.DrawFn) -> tuple[Vote, Vote]:
    key, kind, height, rnd = draw(keys), draw(kinds), draw(heights), draw(rounds)
    v1 = draw(values)
    v2 = draw(values.filter(lambda v: v != v1))
    return (
        sign_vote(key, CHAIN, kind, height, rnd, v1),
        sign_vote(key, CHAIN, kind, height, rnd, v2),
    )


@st.composite
def conflicting_proposals(draw: st.DrawFn) -> tuple[Proposal, Proposal]:
    key, height, rnd = draw(keys), draw(heights), draw(st.integers(0, 50))
    a = (draw(st.integers(-1, rnd - 1)), draw(digests))
    b = (draw(st.integers(-1, rnd - 1)), draw(digests))
    assume(a != b)
    return (
        sign_proposal(key, CHAIN, height, rnd, *a),
        sign_proposal(key, CHAIN, height, rnd, *b),
    )


def other_value(value: bytes | None) -> bytes | None:
    if value is None:
        return b"\x00" * DIGEST_SIZE
    return bytes([value[0] ^ 1]) + value[1:]


# --------------------------------------------------------------------------------------------
# votes and proposals


@FAST
@given(signed_votes())
def test_vote_verifies_and_any_changed_field_breaks_it(vote: Vote) -> None:
    assert vote.verify(CHAIN)
    changed = [
        dataclasses.replace(vote, value=other_value(vote.value)),
        dataclasses.replace(vote, round=vote.round + 1),
        dataclasses.replace(vote, height=vote.height + 1),
        dataclasses.replace(
            vote,
            kind=VoteKind.PRECOMMIT if vote.kind is VoteKind.PREVOTE else VoteKind.PREVOTE,
        ),
        dataclasses.replace(
            vote, validator=next(k for k in KEYS if k.public_key != vote.validator).public_key
        ),
    ]
    if vote.value is not None:
        changed.append(dataclasses.replace(vote, value=None))
    for bad in changed:
        assert bad != vote
        assert not bad.verify(CHAIN), bad
    assert not vote.verify(CHAIN + "x")
    assert not vote.verify("")


@FAST
@given(key=keys, height=heights, rnd=rounds, value=values)
def test_prevote_signature_is_not_a_precommit(
    key: PrivateKey, height: int, rnd: int, value: bytes | None
) -> None:
    prevote = sign_vote(key, CHAIN, VoteKind.PREVOTE, height, rnd, value)
    precommit = sign_vote(key, CHAIN, VoteKind.PRECOMMIT, height, rnd, value)
    assert prevote.verify(CHAIN) and precommit.verify(CHAIN)
    assert prevote.signature != precommit.signature
    relabelled = Vote(VoteKind.PRECOMMIT, height, rnd, value, key.public_key, prevote.signature)
    assert not relabelled.verify(CHAIN)
    relabelled_back = Vote(
        VoteKind.PREVOTE, height, rnd, value, key.public_key, precommit.signature
    )
    assert not relabelled_back.verify(CHAIN)


def test_vote_signature_is_not_a_proposal_signature() -> None:
    key, batch_id = KEYS[0], b"\x07" * 32
    vote = sign_vote(key, CHAIN, VoteKind.PREVOTE, 2, 1, batch_id)
    forged = Proposal(2, 1, 0, batch_id, key.public_key, vote.signature)
    assert not forged.verify(CHAIN)


@FAST
@given(signed_proposals())
def test_proposal_verifies_and_any_changed_field_breaks_it(proposal: Proposal) -> None:
    assert proposal.verify(CHAIN)
    changed = [
        dataclasses.replace(proposal, batch_id=other_value(proposal.batch_id)),
        dataclasses.replace(proposal, round=proposal.round + 1),
        dataclasses.replace(proposal, height=proposal.height + 1),
        dataclasses.replace(
            proposal,
            proposer=next(k for k in KEYS if k.public_key != proposal.proposer).public_key,
        ),
    ]
    if proposal.round >= 1:
        new_pol = proposal.pol_round + 1 if proposal.pol_round < proposal.round - 1 else -1
        changed.append(dataclasses.replace(proposal, pol_round=new_pol))
    for bad in changed:
        assert bad != proposal
        assert not bad.verify(CHAIN), bad
    assert not proposal.verify(CHAIN + "x")


def test_constructors_validate_shape() -> None:
    sig, pk, d = b"\x00" * 64, b"\x00" * 32, b"\x00" * 32
    bad = [
        lambda: Vote(VoteKind.PREVOTE, 0, 0, d, pk, sig),
        lambda: Vote(VoteKind.PREVOTE, 1, -1, d, pk, sig),
        lambda: Vote(VoteKind.PREVOTE, 1, 0, d[:-1], pk, sig),
        lambda: Vote(VoteKind.PREVOTE, 1, 0, d, pk + b"\x00", sig),
        lambda: Vote(VoteKind.PREVOTE, 1, 0, d, pk, sig[:-1]),
        lambda: Proposal(1, 0, 0, d, pk, sig),
        lambda: Proposal(1, 3, 3, d, pk, sig),
        lambda: Proposal(1, 3, -2, d, pk, sig),
        lambda: Certificate(1, 0, d + b"\x00", ()),
        lambda: CommitSig(pk, sig + b"\x00"),
        lambda: Tx("", "s", b""),
        lambda: BatchHeader("c", 1, 0, d, pk, -1, d, d, d),
    ]
    for make in bad:
        with pytest.raises(ValueError):
            make()
    assert Proposal(1, 3, 2, d, pk, sig).pol_round == 2
    assert Vote(VoteKind.PRECOMMIT, 1, 0, None, pk, sig).value is None


def test_vote_kind_steps() -> None:
    assert VoteKind.PREVOTE.step is Step.PREVOTE
    assert VoteKind.PRECOMMIT.step is Step.PRECOMMIT
    assert list(Step) == sorted(Step)


# --------------------------------------------------------------------------------------------
# evidence


@FAST
@given(conflicting_votes())
def test_make_evidence_from_votes_is_canonical(pair: tuple[Vote, Vote]) -> None:
    a, b = pair
    ev = make_evidence(a, b)
    assert isinstance(ev, DuplicateVote)
    assert ev == make_evidence(b, a)
    assert codec.encode(ev) == codec.encode(make_evidence(b, a))
    assert evidence_id(ev) == evidence_id(make_evidence(b, a))
    assert ev.first.signature < ev.second.signature
    assert {ev.first, ev.second} == {a, b}
    assert ev.offender == a.validator and ev.height == a.height
    assert ev.verify(CHAIN)
    assert not ev.verify(CHAIN + "x")


@FAST
@given(conflicting_proposals())
def test_make_evidence_from_proposals_is_canonical(pair: tuple[Proposal, Proposal]) -> None:
    a, b = pair
    ev = make_evidence(a, b)
    assert isinstance(ev, DuplicateProposal)
    assert ev == make_evidence(b, a)
    assert evidence_id(ev) == evidence_id(make_evidence(b, a))
    assert ev.first.signature < ev.second.signature
    assert {ev.first, ev.second} == {a, b}
    assert ev.offender == a.proposer and ev.height == a.height
    assert ev.verify(CHAIN)


@FAST
@given(conflicting_votes(), st.data())
def test_evidence_with_forged_vote_does_not_verify(
    pair: tuple[Vote, Vote], data: st.DataObject
) -> None:
    a, b = pair
    forged_sig = data.draw(st.binary(min_size=64, max_size=64).filter(lambda s: s != b.signature))
    forged = dataclasses.replace(b, signature=forged_sig)
    assume(forged_sig != a.signature)
    ev = make_evidence(a, forged)
    assert not ev.verify(CHAIN)


def test_make_evidence_rejects_non_conflicting_pairs() -> None:
    key, other = KEYS[0], KEYS[1]
    v = sign_vote(key, CHAIN, VoteKind.PREVOTE, 5, 0, b"\x01" * 32)
    p = sign_proposal(key, CHAIN, 5, 0, -1, b"\x01" * 32)
    not_conflicting = [
        (v, v),
        (v, sign_vote(other, CHAIN, VoteKind.PREVOTE, 5, 0, b"\x02" * 32)),
        (v, sign_vote(key, CHAIN, VoteKind.PREVOTE, 5, 1, b"\x02" * 32)),
        (v, sign_vote(key, CHAIN, VoteKind.PRECOMMIT, 5, 0, b"\x02" * 32)),
        (v, sign_vote(key, CHAIN, VoteKind.PREVOTE, 6, 0, b"\x02" * 32)),
        (v, p),
        (p, p),
        (p, sign_proposal(other, CHAIN, 5, 0, -1, b"\x02" * 32)),
        (p, sign_proposal(key, CHAIN, 5, 1, -1, b"\x02" * 32)),
    ]
    for a, b in not_conflicting:
        with pytest.raises(ValueError):
            make_evidence(a, b)
        with pytest.raises(ValueError):
            make_evidence(b, a)


# --------------------------------------------------------------------------------------------
# transactions and batches


@FAST
@given(tx=txs, other_payload=st.binary(max_size=64))
def test_tx_id_changes_with_payload(tx: Tx, other_payload: bytes) -> None:
    assert len(tx.id) == DIGEST_SIZE
    assert tx.id == tx_id(tx.encoded) == digest(codec.encode(tx))
    assert tx.encoded == codec.encode(tx)
    other = dataclasses.replace(tx, payload=other_payload)
    assert (other.id == tx.id) == (other_payload == tx.payload)
    assert dataclasses.replace(tx, sender=tx.sender + "x").id != tx.id
    assert dataclasses.replace(tx, namespace=tx.namespace + "x").id != tx.id


def _header_for(body: tuple[ChunkCertificate, ...], evidence: tuple = ()) -> BatchHeader:
    return BatchHeader(
        chain_id=CHAIN,
        height=3,
        round=1,
        parent_id=b"\x00" * 32,
        proposer=KEYS[0].public_key,
        timestamp_ms=1_700_000_000_000,
        chunks_digest=chunks_digest(body),
        evidence_digest=evidence_digest(evidence),
        validator_set_hash=b"\x09" * 32,
    )


def _certs(tx_list: list[Tx], first_seq: int = 0) -> tuple[ChunkCertificate, ...]:
    """One chunk per transaction, of alternating authors."""
    return tuple(
        certificate(chunk(KEYS[i % 2], (tx.encoded,), seq=first_seq + i))
        for i, tx in enumerate(tx_list)
    )


@FAST
@given(tx_list=st.lists(txs, min_size=1, max_size=6), data=st.data())
def test_body_matches_header_detects_changed_chunk_list(
    tx_list: list[Tx], data: st.DataObject
) -> None:
    body = _certs(tx_list)
    batch = Batch(_header_for(body), body, ())
    assert batch.body_matches_header()
    assert batch.tx_count == len(tx_list)
    assert batch.chunk_digests == tuple(c.digest for c in body)

    i = data.draw(st.integers(0, len(body) - 1), label="index")
    (extra,) = _certs([data.draw(txs, label="extra")], first_seq=len(body))
    changed = body[i]
    altered = [
        body[:i] + body[i + 1 :],  # dropped
        (*body, extra),  # appended
        (extra, *body),  # prepended
        (
            *body[:i],
            dataclasses.replace(changed, size_bytes=changed.size_bytes + 1),
            *body[i + 1 :],
        ),
        (*body[:i], dataclasses.replace(changed, digest=digest(changed.digest)), *body[i + 1 :]),
        (
            *body[:i],
            dataclasses.replace(changed, size_bytes=changed.size_bytes + 1),
            *body[i + 1 :],
        ),
        (*body[:i], dataclasses.replace(changed, author=KEYS[2].public_key), *body[i + 1 :]),
        (*body[:i], body[i], *body[i:]),  # duplicated
    ]
    if len(set(body)) > 1:
        altered.append(body[1:] + body[:1])  # reordered
    for other in altered:
        assert other != body
        assert not Batch(batch.header, other, ()).body_matches_header()
    # The header commits to what each certificate certifies, not to which acks prove it.
    fewer_acks = dataclasses.replace(changed, signatures=changed.signatures[:1])
    same = Batch(batch.header, (*body[:i], fewer_acks, *body[i + 1 :]), ())
    assert same.body_matches_header()


@FAST
@given(conflicting_votes(), conflicting_proposals())
def test_body_matches_header_detects_changed_evidence(
    vote_pair: tuple[Vote, Vote], proposal_pair: tuple[Proposal, Proposal]
) -> None:
    ev_vote, ev_prop = make_evidence(*vote_pair), make_evidence(*proposal_pair)
    body = _certs([Tx("ns", "s", b"x")])
    batch = Batch(_header_for(body, (ev_vote,)), body, (ev_vote,))
    assert batch.body_matches_header()
    for other in ((), (ev_prop,), (ev_vote, ev_prop), (ev_vote, ev_vote)):
        assert not Batch(batch.header, body, other).body_matches_header()
    # the evidence and chunk digests are not interchangeable
    assert not Batch(batch.header, (), (ev_vote,)).body_matches_header()


def test_a_last_commit_must_certify_the_parent_height() -> None:
    with pytest.raises(ValueError, match="last commit"):
        dataclasses.replace(_header_for(()), last_commit=Certificate(3, 0, b"\x05" * 32, ()))


def test_batch_id_is_header_id_and_commits_to_every_header_field() -> None:
    header = _header_for(())
    batch = Batch(header, (), ())
    assert batch.id == header.id == digest(codec.encode(header))
    assert batch.height == 3
    changes = {
        "chain_id": "other",
        "height": 4,
        "round": 2,
        "parent_id": b"\x01" * 32,
        "proposer": KEYS[1].public_key,
        "timestamp_ms": 1,
        "chunks_digest": b"\x02" * 32,
        "evidence_digest": b"\x03" * 32,
        "validator_set_hash": b"\x04" * 32,
        "last_commit": Certificate(2, 0, b"\x05" * 32, ()),
        "namespaces_root": b"\x06" * 32,
    }
    assert set(changes) == {f.name for f in dataclasses.fields(BatchHeader)}
    ids = {header.id}
    for name, value in changes.items():
        ids.add(dataclasses.replace(header, **{name: value}).id)
    assert len(ids) == len(changes) + 1


# --------------------------------------------------------------------------------------------
# certificates


@FAST
@given(height=heights, rnd=rounds, batch_id=digests, signers=st.sets(keys, min_size=1))
def test_certificate_votes_reproduce_verifiable_precommits(
    height: int, rnd: int, batch_id: bytes, signers: set[PrivateKey]
) -> None:
    precommits = [
        sign_vote(k, CHAIN, VoteKind.PRECOMMIT, height, rnd, batch_id)
        for k in sorted(signers, key=lambda k: k.public_key)
    ]
    cert = Certificate(
        height, rnd, batch_id, tuple(CommitSig(v.validator, v.signature) for v in precommits)
    )
    votes = cert.votes()
    assert votes == precommits
    assert all(v.kind is VoteKind.PRECOMMIT and v.verify(CHAIN) for v in votes)

    # the same signatures claimed for another value, round or height do not verify
    for other in (
        dataclasses.replace(cert, batch_id=other_value(batch_id)),
        dataclasses.replace(cert, round=rnd + 1),
        dataclasses.replace(cert, height=height + 1),
    ):
        assert not any(v.verify(CHAIN) for v in other.votes())

    # nor do prevote signatures passed off as a commit
    prevotes = [sign_vote(k, CHAIN, VoteKind.PREVOTE, height, rnd, batch_id) for k in signers]
    fake = Certificate(
        height, rnd, batch_id, tuple(CommitSig(v.validator, v.signature) for v in prevotes)
    )
    assert not any(v.verify(CHAIN) for v in fake.votes())


def test_empty_certificate_has_no_votes() -> None:
    assert Certificate(1, 0, b"\x00" * 32, ()).votes() == []
