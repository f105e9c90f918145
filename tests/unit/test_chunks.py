"""The data path's proofs: availability acks, chunk certificates (acks from more than a third
of the stake) and a committed batch's chunks matching the certificates it orders."""

from __future__ import annotations

import dataclasses

import pytest
from helpers.chunks import certificate, chunk, committed_batch

from sequencer_net import codec
from sequencer_net.chunks import certificate_problem, certify, sign_ack
from sequencer_net.crypto import PrivateKey
from sequencer_net.messages import CommittedBatch
from sequencer_net.namespaces import table_of
from sequencer_net.types import Chunk, ChunkCertificate, CommitSig, Tx
from sequencer_net.validators import Validator, ValidatorSet

CHAIN = "chunks-test"
# Weighted so that stake, not heads, decides: 90 in all, a third is exactly 30.
STAKES = {"heavy": 40, "mid": 30, "light1": 10, "light2": 10}
KEYS = {name: PrivateKey.from_label(f"chunks-{name}") for name in [*STAKES, "jailed"]}
STRANGER = PrivateKey.from_label("chunks-stranger")
VALIDATORS = ValidatorSet(
    [
        *(Validator(name, KEYS[name].public_key, power) for name, power in STAKES.items()),
        Validator("jailed", KEYS["jailed"].public_key, 50, jailed=True),
    ]
)
HEAVY, MID, LIGHT1, LIGHT2, JAILED = (KEYS[n] for n in [*STAKES, "jailed"])


def txs(*payloads: bytes) -> tuple[bytes, ...]:
    return tuple(Tx("rollup-1", "alice", p).encoded for p in payloads)


DATA = chunk(MID, txs(b"1", b"22", b"333"))


def signed_by(*signers: PrivateKey, data: Chunk = DATA) -> ChunkCertificate:
    return certificate(data, signers, CHAIN)


def problem(cert: ChunkCertificate) -> str | None:
    return certificate_problem(cert, VALIDATORS, CHAIN)


def test_the_weighted_stakes_put_a_third_at_exactly_30() -> None:
    # guards the cases below: they turn on the power, not on the number of signers
    assert VALIDATORS.total_power == 90
    assert not VALIDATORS.is_third(30) and VALIDATORS.is_third(31)


@pytest.mark.parametrize(
    "signers",
    [(HEAVY,), (MID, LIGHT1), (LIGHT1, LIGHT2, MID), (HEAVY, MID, LIGHT1, LIGHT2)],
    ids=["one-heavy-signer", "mid-and-light", "three", "all"],
)
def test_acks_from_more_than_a_third_of_the_stake_certify(signers: tuple[PrivateKey, ...]) -> None:
    cert = signed_by(*signers)
    assert problem(cert) is None
    described = (cert.digest, cert.author, cert.tx_count, cert.size_bytes)
    assert described == (DATA.digest, DATA.author, 3, sum(len(t) for t in DATA.txs))


@pytest.mark.parametrize(
    "signers",
    [(), (MID,), (LIGHT1, LIGHT2), (LIGHT1,)],
    ids=["none", "exactly-a-third", "two-heads-a-fifth-of-the-stake", "one-light"],
)
def test_acks_from_a_third_of_the_stake_or_less_do_not(signers: tuple[PrivateKey, ...]) -> None:
    assert problem(signed_by(*signers)) == "acks hold a third of the stake or less"


BAD_SIGNATURE = "an ack signature does not verify"


def test_a_forged_ack_signature_is_refused() -> None:
    good = signed_by(HEAVY, MID)
    assert problem(good) is None
    forged = list(good.signatures)
    forged[1] = CommitSig(MID.public_key, bytes(64))
    assert problem(dataclasses.replace(good, signatures=tuple(forged))) == BAD_SIGNATURE
    # MID's real signature, but on another chunk: an ack is bound to its digest.
    other_chunk = chunk(MID, txs(b"other"))
    other = sign_ack(MID, CHAIN, other_chunk, table_of(other_chunk))
    forged[1] = CommitSig(MID.public_key, other.signature)
    assert problem(dataclasses.replace(good, signatures=tuple(forged))) == BAD_SIGNATURE
    # ... and to the counts a proposer fills a batch by, the namespace table, and the chain.
    (entry,) = good.namespaces
    fewer = dataclasses.replace(entry, tx_count=entry.tx_count - 1)
    assert problem(dataclasses.replace(good, tx_count=good.tx_count - 1, namespaces=(fewer,))) == (
        BAD_SIGNATURE
    )
    with pytest.raises(ValueError, match="does not count"):
        dataclasses.replace(good, tx_count=good.tx_count - 1)
    other_root = dataclasses.replace(entry, root=bytes(32))
    assert problem(dataclasses.replace(good, namespaces=(other_root,))) == BAD_SIGNATURE
    assert problem(dataclasses.replace(good, size_bytes=good.size_bytes + 1)) == BAD_SIGNATURE
    assert certificate_problem(good, VALIDATORS, "another-chain") == BAD_SIGNATURE


def test_a_duplicate_signer_counts_once_and_is_refused() -> None:
    # MID twice would hold 60 of 90; once it holds exactly a third.
    assert problem(signed_by(MID, MID)) == "a validator acked twice"
    assert problem(signed_by(HEAVY, LIGHT1, HEAVY)) == "a validator acked twice"


@pytest.mark.parametrize("outsider", [STRANGER, JAILED], ids=["stranger", "jailed"])
def test_an_ack_from_outside_the_active_set_is_refused(outsider: PrivateKey) -> None:
    # HEAVY alone would be enough: the outsider's ack is refused, not ignored.
    assert problem(signed_by(HEAVY, outsider)) == "an ack from a key outside the active set"
    assert problem(signed_by(outsider, LIGHT1, MID)) == "an ack from a key outside the active set"


def test_a_chunk_by_an_author_outside_the_set_is_refused() -> None:
    stray = chunk(STRANGER, txs(b"x"))
    assert problem(signed_by(HEAVY, MID, data=stray)) == "author is not an active validator"


def test_certify_builds_the_certificate_an_ack_describes() -> None:
    acks = [sign_ack(k, CHAIN, DATA, table_of(DATA)) for k in (HEAVY, LIGHT1)]
    assert all(a.verify(CHAIN) for a in acks) and not acks[0].verify("another-chain")
    cert = certify(
        acks[0], tuple(CommitSig(a.validator, a.signature) for a in acks), table_of(DATA)
    )
    assert cert == signed_by(HEAVY, LIGHT1)
    assert problem(cert) is None


# ---- a committed batch and its chunks ----------------------------------------------------


def chunks_for(height: int) -> list[Chunk]:
    return [
        chunk(HEAVY, txs(b"a", b"b"), seq=height),
        chunk(MID, txs(b"b", b"c"), seq=height),
        chunk(LIGHT1, txs(b"d"), seq=height),
    ]


def test_chunks_match_only_the_certified_chunks_in_batch_order() -> None:
    parts = chunks_for(1)
    entry = committed_batch(CHAIN, 1, parts)
    assert entry.chunks_match
    assert codec.decode(codec.encode(entry), CommittedBatch).chunks_match
    # Same author and seq, other transactions: the digest differs from the certificate's.
    swapped = chunk(MID, txs(b"b", b"evil"), seq=1)
    assert swapped.digest != parts[1].digest
    for chunks in (
        (parts[0], swapped, parts[2]),  # a chunk whose digest mismatches its certificate
        (parts[0], parts[2], parts[1]),  # reordered
        tuple(parts[:2]),  # one missing
        (*parts, chunk(LIGHT2, txs(b"e"))),  # one the batch does not order
        (),  # none
    ):
        assert not dataclasses.replace(entry, chunks=chunks).chunks_match


def test_committed_order_is_chunk_order_with_a_repeated_tx_once() -> None:
    entry = committed_batch(CHAIN, 1, chunks_for(1))
    assert entry.txs == txs(b"a", b"b", b"c", b"d")
    assert entry.tx_ids == tuple(Tx("rollup-1", "alice", p).id for p in (b"a", b"b", b"c", b"d"))
    assert entry.batch.tx_count == 5  # what the certificates claim, repeats included
    assert committed_batch(CHAIN, 1, []).txs == ()
