"""Canonical msgpack codec: round trips, determinism and strict decoding."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sequencer_net import codec
from sequencer_net.messages import (
    MAX_CHUNKS_PER_FETCH,
    MAX_SYNC_ENTRIES,
    ChunkRequest,
    ChunkResponse,
    CommittedBatch,
    SyncResponse,
)
from sequencer_net.types import (
    MAX_BATCH_CHUNKS,
    MAX_CHUNK_BYTES,
    MAX_CHUNK_TXS,
    MAX_EVIDENCE_PER_BATCH,
    MAX_PAYLOAD,
    MAX_VALIDATORS,
    Batch,
    BatchHeader,
    Certificate,
    Chunk,
    ChunkAck,
    ChunkCertificate,
    CommitSig,
    DuplicateProposal,
    DuplicateVote,
    Evidence,
    NamespaceEntry,
    Proposal,
    Tx,
    Vote,
    VoteKind,
    chunks_digest,
    evidence_digest,
)

FAST = settings(max_examples=40, deadline=None)
FUZZ = settings(max_examples=200, deadline=None)

# --------------------------------------------------------------------------------------------
# strategies

U64_MAX = 2**64 - 1
digests = st.binary(min_size=32, max_size=32)
pubkeys = st.binary(min_size=32, max_size=32)
sigs = st.binary(min_size=64, max_size=64)
heights = st.integers(1, U64_MAX)
rounds = st.integers(0, U64_MAX)

txs = st.builds(
    Tx,
    namespace=st.text(min_size=1, max_size=64),
    sender=st.text(max_size=64),
    payload=st.binary(max_size=200),
)

headers = st.builds(
    BatchHeader,
    chain_id=st.text(max_size=32),
    height=heights,
    round=rounds,
    parent_id=digests,
    proposer=pubkeys,
    timestamp_ms=st.integers(0, U64_MAX),
    chunks_digest=digests,
    evidence_digest=digests,
    validator_set_hash=digests,
)

votes = st.builds(
    Vote,
    kind=st.sampled_from(VoteKind),
    height=heights,
    round=rounds,
    value=st.none() | digests,
    validator=pubkeys,
    signature=sigs,
)
nil_votes = votes.map(lambda v: dataclasses.replace(v, value=None))
value_votes = st.builds(dataclasses.replace, votes, value=digests)


@st.composite
def proposals(draw: st.DrawFn) -> Proposal:
    rnd = draw(st.integers(0, U64_MAX))
    pol = draw(st.integers(-1, rnd - 1))
    return Proposal(draw(heights), rnd, pol, draw(digests), draw(pubkeys), draw(sigs))


@st.composite
def duplicate_votes(draw: st.DrawFn) -> DuplicateVote:
    a = draw(votes)
    value = draw((st.none() | digests).filter(lambda v: v != a.value))
    sig = draw(sigs.filter(lambda s: s != a.signature))
    b = dataclasses.replace(a, value=value, signature=sig)
    first, second = sorted((a, b), key=lambda v: v.signature)
    return DuplicateVote(first, second)


@st.composite
def duplicate_proposals(draw: st.DrawFn) -> DuplicateProposal:
    a = draw(proposals())
    if a.round >= 1 and draw(st.booleans()):
        # same batch, different proof-of-lock round: still two different signed payloads
        pol = draw(st.integers(-1, a.round - 1).filter(lambda r: r != a.pol_round))
        b = dataclasses.replace(a, pol_round=pol)
    else:
        b = dataclasses.replace(a, batch_id=draw(digests.filter(lambda d: d != a.batch_id)))
    b = dataclasses.replace(b, signature=draw(sigs.filter(lambda s: s != a.signature)))
    first, second = sorted((a, b), key=lambda p: p.signature)
    return DuplicateProposal(first, second)


evidences = st.one_of(duplicate_votes(), duplicate_proposals())
commit_sigs = st.builds(CommitSig, validator=pubkeys, signature=sigs)
certificates = st.builds(
    Certificate,
    height=heights,
    round=rounds,
    batch_id=digests,
    signatures=st.lists(commit_sigs, max_size=5).map(tuple),
)


chunks = st.builds(
    Chunk,
    author=pubkeys,
    seq=st.integers(0, U64_MAX),
    txs=st.lists(txs.map(lambda t: t.encoded), min_size=1, max_size=4).map(tuple),
    bundle=st.booleans(),
)
tx_counts = st.integers(1, MAX_CHUNK_TXS)
chunk_sizes = st.integers(0, MAX_CHUNK_BYTES)
chunk_acks = st.builds(
    ChunkAck,
    digest=digests,
    author=pubkeys,
    tx_count=tx_counts,
    size_bytes=chunk_sizes,
    namespaces_root=digests,
    validator=pubkeys,
    signature=sigs,
)


@st.composite
def chunk_certificates(draw: st.DrawFn) -> ChunkCertificate:
    """A certificate whose namespace table (sorted, distinct ids) counts its transactions."""
    ids = sorted(draw(st.sets(st.integers(0, 2**63 - 1), min_size=1, max_size=4)))
    counts = [draw(st.integers(1, MAX_CHUNK_TXS // 4)) for _ in ids]
    table = tuple(NamespaceEntry(i, n, draw(digests)) for i, n in zip(ids, counts, strict=True))
    return ChunkCertificate(
        draw(digests),
        draw(pubkeys),
        sum(counts),
        draw(chunk_sizes),
        tuple(draw(st.lists(commit_sigs, max_size=4))),
        table,
    )


@st.composite
def batches(draw: st.DrawFn, min_chunks: int = 0, min_evidence: int = 0) -> Batch:
    """A batch whose header commits to its body (chunk certificates and evidence)."""
    body = tuple(draw(st.lists(chunk_certificates(), min_size=min_chunks, max_size=4)))
    evidence = tuple(draw(st.lists(evidences, min_size=min_evidence, max_size=3)))
    header = draw(headers)
    header = dataclasses.replace(
        header, chunks_digest=chunks_digest(body), evidence_digest=evidence_digest(evidence)
    )
    return Batch(header, body, evidence)


# arbitrary (unvalidated) header + body, to cover bodies that do not match their header
loose_batches = st.builds(
    Batch,
    header=headers,
    chunks=st.lists(chunk_certificates(), max_size=4).map(tuple),
    evidence=st.lists(evidences, max_size=2).map(tuple),
)
committed_batches = st.builds(
    CommittedBatch,
    batch=loose_batches,
    certificate=certificates,
    chunks=st.lists(chunks, max_size=3).map(tuple),
)

MESSAGE_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "Tx": txs,
    "BatchHeader": headers,
    "Batch": batches(),
    "Batch-with-chunks-and-evidence": batches(min_chunks=1, min_evidence=1),
    "Batch-loose": loose_batches,
    "Chunk": chunks,
    "ChunkAck": chunk_acks,
    "ChunkCertificate": chunk_certificates(),
    "NamespaceEntry": st.builds(
        NamespaceEntry, ns_id=st.integers(0, 2**63 - 1), tx_count=tx_counts, root=digests
    ),
    "CommittedBatch": committed_batches,
    "ChunkRequest": st.lists(digests, min_size=1, max_size=MAX_CHUNKS_PER_FETCH).map(
        lambda ds: ChunkRequest(tuple(ds))
    ),
    "ChunkResponse": st.lists(chunks, max_size=3).map(lambda cs: ChunkResponse(tuple(cs))),
    "Proposal": proposals(),
    "Vote-value": value_votes,
    "Vote-nil": nil_votes,
    "CommitSig": commit_sigs,
    "Certificate": certificates,
    "DuplicateVote": duplicate_votes(),
    "DuplicateProposal": duplicate_proposals(),
}
any_message = st.one_of(*MESSAGE_STRATEGIES.values())

REGISTERED = [
    Tx,
    BatchHeader,
    Batch,
    Proposal,
    Vote,
    CommitSig,
    Certificate,
    DuplicateVote,
    DuplicateProposal,
    Chunk,
    ChunkAck,
    ChunkCertificate,
    NamespaceEntry,
    ChunkRequest,
    ChunkResponse,
    CommittedBatch,
]
DECODE_TARGETS: list[Any] = [
    *REGISTERED,
    Evidence,
    int,
    bool,
    str,
    bytes,
    bytes | None,
    tuple[bytes, ...],
    tuple[Evidence, ...],
    VoteKind,
]


def rebuild(obj: Any) -> Any:
    """An equal object built separately from ``obj`` (fresh dataclasses, tuples and bytes)."""
    if dataclasses.is_dataclass(obj):
        return type(obj)(*(rebuild(getattr(obj, f.name)) for f in dataclasses.fields(obj)))
    if type(obj) is tuple:
        return tuple(rebuild(x) for x in obj)
    if type(obj) is bytes:
        return bytes(bytearray(obj))
    if type(obj) is str:
        return obj.encode().decode()
    return obj


def decode_or_none(data: Any, expected: Any) -> Any:
    """Decode, mapping DecodeError to None; any other exception escapes and fails the test."""
    try:
        return codec.decode(data, expected)
    except codec.DecodeError:
        return None


def check_accepted(value: Any, expected: Any) -> None:
    """Whatever the decoder accepts must be a well-formed value that round-trips."""
    if value is None:
        return
    if expected in codec._tag_of:
        assert type(value) is expected
    assert codec.decode(codec.encode(value), expected) == value


# --------------------------------------------------------------------------------------------
# 1. round trip and determinism


@pytest.mark.parametrize("name", list(MESSAGE_STRATEGIES))
@FAST
@given(data=st.data())
def test_round_trip_and_determinism(name: str, data: st.DataObject) -> None:
    obj = data.draw(MESSAGE_STRATEGIES[name])
    encoded = codec.encode(obj)
    assert isinstance(encoded, bytes)

    decoded = codec.decode(encoded, type(obj))
    assert decoded == obj
    assert type(decoded) is type(obj)

    # deterministic: same object, a separately built equal object and the decoded copy
    assert codec.encode(obj) == encoded
    twin = rebuild(obj)
    assert twin == obj and twin is not obj
    assert codec.encode(twin) == encoded
    assert codec.encode(decoded) == encoded


@FAST
@given(evidences)
def test_evidence_decodes_as_union(ev: Evidence) -> None:
    decoded = codec.decode(codec.encode(ev), Evidence)
    assert decoded == ev
    assert type(decoded) is type(ev)
    # and as the member type it really is, but not as the other member
    other = DuplicateProposal if isinstance(ev, DuplicateVote) else DuplicateVote
    assert codec.decode(codec.encode(ev), type(ev)) == ev
    with pytest.raises(codec.DecodeError):
        codec.decode(codec.encode(ev), other)


@FAST
@given(batches(min_chunks=1, min_evidence=1))
def test_decoded_batch_still_matches_header(batch: Batch) -> None:
    decoded = codec.decode(codec.encode(batch), Batch)
    assert decoded.body_matches_header()
    assert decoded.id == batch.id
    assert decoded.chunk_digests == batch.chunk_digests
    assert decoded.tx_count == batch.tx_count


@FAST
@given(committed_batches)
def test_decoded_chunks_keep_their_digests_and_transactions(entry: CommittedBatch) -> None:
    decoded = codec.decode(codec.encode(entry), CommittedBatch)
    assert [c.digest for c in decoded.chunks] == [c.digest for c in entry.chunks]
    assert decoded.chunks_match == entry.chunks_match
    assert [codec.decode(t, Tx).encoded for t in decoded.txs] == list(entry.txs)


@FAST
@given(votes)
def test_vote_kind_decodes_as_enum(vote: Vote) -> None:
    decoded = codec.decode(codec.encode(vote), Vote)
    assert isinstance(decoded.kind, VoteKind)
    assert decoded.kind is vote.kind


@FAST
@given(any_message)
def test_wire_layout_is_tagged_list_in_field_order(obj: Any) -> None:
    raw = msgpack.unpackb(codec.encode(obj), raw=False)
    fields = dataclasses.fields(obj)
    assert isinstance(raw, list) and len(raw) == 1 + len(fields)
    assert raw[0] == codec._tag_of[type(obj)]


def test_wire_tags_are_stable() -> None:
    expected = {
        Tx: 1,
        BatchHeader: 2,
        Batch: 3,
        Proposal: 4,
        Vote: 5,
        CommitSig: 6,
        Certificate: 7,
        DuplicateVote: 8,
        DuplicateProposal: 9,
        Chunk: 10,
        ChunkAck: 11,
        ChunkCertificate: 12,
        NamespaceEntry: 13,
        CommittedBatch: 23,
        ChunkRequest: 27,
        ChunkResponse: 28,
    }
    assert {cls: codec._tag_of[cls] for cls in expected} == expected
    # Tag 21 was TxGossip, retired with it: a tag is never given to another type.
    assert 21 not in codec._by_tag


def test_golden_encodings() -> None:
    # fixed bytes: a change here is a wire-format break
    assert codec.encode(Tx("ns", "a", b"\x01")).hex() == "9401a26e73a161c40101"
    vote = Vote(VoteKind.PRECOMMIT, 1, 0, None, b"\x11" * 32, b"\x22" * 64)
    assert codec.encode(vote) == (
        b"\x97\x05\x03\x01\x00\xc0\xc4\x20" + b"\x11" * 32 + b"\xc4\x40" + b"\x22" * 64
    )


def test_register_rejects_reused_tag_and_non_frozen() -> None:
    @dataclasses.dataclass(frozen=True)
    class Dup:
        x: int

    with pytest.raises(RuntimeError):
        codec.register(1)(Dup)

    @dataclasses.dataclass
    class Mutable:
        x: int

    with pytest.raises(TypeError):
        codec.register(10_000)(Mutable)
    assert 10_000 not in codec._by_tag


def test_encode_rejects_non_canonical_types() -> None:
    for bad in (1.5, {"a": 1}, bytearray(b"x"), {1, 2}, object()):
        with pytest.raises(TypeError):
            codec.encode(bad)


# --------------------------------------------------------------------------------------------
# 2. strictness: fuzzing


@FUZZ
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_only_raise_decode_error(data: bytes) -> None:
    for expected in DECODE_TARGETS:
        check_accepted(decode_or_none(data, expected), expected)


msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), U64_MAX)
    | st.floats()
    | st.text(max_size=8)
    | st.binary(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=8)
        | st.dictionaries(st.text(max_size=3), inner, max_size=2)
        | st.tuples(st.integers(0, 12), st.lists(inner, max_size=8)).map(lambda t: [t[0], *t[1]])
    ),
    max_leaves=25,
)


@FUZZ
@given(value=msgpack_values)
def test_arbitrary_msgpack_structures_only_raise_decode_error(value: Any) -> None:
    data = msgpack.packb(value, use_bin_type=True)
    for expected in DECODE_TARGETS:
        check_accepted(decode_or_none(data, expected), expected)


def _paths(wire: Any, prefix: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    out = [prefix]
    if isinstance(wire, list):
        for i, item in enumerate(wire):
            out.extend(_paths(item, (*prefix, i)))
    return out


def _replace_at(wire: Any, path: tuple[int, ...], value: Any) -> Any:
    if not path:
        return value
    copy = list(wire)
    copy[path[0]] = _replace_at(wire[path[0]], path[1:], value)
    return copy


@FUZZ
@given(data=st.data())
def test_structurally_mutated_messages_only_raise_decode_error(data: st.DataObject) -> None:
    obj = data.draw(any_message)
    wire = codec.to_wire(obj)
    path = data.draw(st.sampled_from(_paths(wire)))
    mutated = _replace_at(wire, path, data.draw(msgpack_values))
    encoded = msgpack.packb(mutated, use_bin_type=True)
    for expected in (type(obj), Evidence, Batch):
        check_accepted(decode_or_none(encoded, expected), expected)


mutations = st.lists(
    st.tuples(
        st.sampled_from(["flip", "insert", "delete", "set"]),
        st.integers(0, 10**6),
        st.integers(0, 255),
    ),
    min_size=1,
    max_size=4,
)


def apply_mutations(data: bytes, muts: list[tuple[str, int, int]]) -> bytes:
    buf = bytearray(data)
    for op, pos, byte in muts:
        if op == "insert":
            buf.insert(pos % (len(buf) + 1), byte)
        elif not buf:
            continue
        elif op == "flip":
            buf[pos % len(buf)] ^= 1 << (byte % 8)
        elif op == "set":
            buf[pos % len(buf)] = byte
        else:
            del buf[pos % len(buf)]
    return bytes(buf)


@pytest.mark.parametrize(
    "strategy",
    [batches(min_chunks=1, min_evidence=1), loose_batches, votes, chunks],
    ids=["batch", "loose-batch", "vote", "chunk"],
)
@FUZZ
@given(data=st.data())
def test_byte_mutated_encodings_only_raise_decode_error(
    strategy: st.SearchStrategy[Any], data: st.DataObject
) -> None:
    obj = data.draw(strategy)
    mutated = apply_mutations(codec.encode(obj), data.draw(mutations))
    for expected in (type(obj), Vote, Batch, Evidence, Tx, Chunk, ChunkCertificate):
        check_accepted(decode_or_none(mutated, expected), expected)


@FAST
@given(batches(min_chunks=1, min_evidence=1))
def test_every_truncation_and_extension_is_rejected(batch: Batch) -> None:
    encoded = codec.encode(batch)
    for cut in range(len(encoded)):
        with pytest.raises(codec.DecodeError):
            codec.decode(encoded[:cut], Batch)
    for trailer in (b"\x00", b"\xc0", encoded):
        with pytest.raises(codec.DecodeError):
            codec.decode(encoded + trailer, Batch)


# --------------------------------------------------------------------------------------------
# 2. strictness: explicit cases

KEY_A = b"\xaa" * 32
KEY_B = b"\xbb" * 32
VOTE = Vote(VoteKind.PREVOTE, 7, 2, b"\x01" * 32, KEY_A, b"\x05" * 64)
VOTE_WIRE = codec.to_wire(VOTE)  # [5, kind, height, round, value, validator, signature]
PROPOSAL = Proposal(7, 2, 1, b"\x02" * 32, KEY_A, b"\x06" * 64)
HEADER = BatchHeader(
    "chain", 1, 0, b"\x00" * 32, KEY_A, 0, b"\x01" * 32, b"\x02" * 32, b"\x03" * 32
)


def wire_decode(wire: Any, expected: Any) -> Any:
    return codec.decode(msgpack.packb(wire, use_bin_type=True), expected)


def test_explicit_fixtures_are_valid() -> None:
    # guards the negative cases below: they must fail because of the mutation, not the base
    assert wire_decode(VOTE_WIRE, Vote) == VOTE
    assert wire_decode(codec.to_wire(PROPOSAL), Proposal) == PROPOSAL
    assert wire_decode(codec.to_wire(HEADER), BatchHeader) == HEADER


def with_field(wire: list[Any], index: int, value: Any) -> list[Any]:
    copy = list(wire)
    copy[index] = value
    return copy


BAD_VOTE_WIRES = {
    "wrong-tag-proposal": with_field(VOTE_WIRE, 0, 4),
    "unknown-tag": with_field(VOTE_WIRE, 0, 99),
    "negative-tag": with_field(VOTE_WIRE, 0, -5),
    "bool-tag": with_field(VOTE_WIRE, 0, True),
    "str-tag": with_field(VOTE_WIRE, 0, "5"),
    "no-tag": VOTE_WIRE[1:],
    "empty-list": [],
    "not-a-list": 5,
    "nil": None,
    "too-few-fields": VOTE_WIRE[:-1],
    "too-many-fields": [*VOTE_WIRE, b"\x00" * 64],
    "str-where-bytes": with_field(VOTE_WIRE, 5, "a" * 32),
    "bytes-where-int": with_field(VOTE_WIRE, 2, b"\x07"),
    "bool-where-int": with_field(VOTE_WIRE, 2, True),
    "bool-kind": with_field(VOTE_WIRE, 1, True),
    "str-kind": with_field(VOTE_WIRE, 1, "prevote"),
    "unknown-kind": with_field(VOTE_WIRE, 1, 4),
    "propose-step-as-kind": with_field(VOTE_WIRE, 1, 1),
    "height-zero": with_field(VOTE_WIRE, 2, 0),
    "negative-round": with_field(VOTE_WIRE, 3, -1),
    "empty-map-field": with_field(VOTE_WIRE, 4, {}),
    "map-field": with_field(VOTE_WIRE, 4, {"a": 1}),
    "list-where-bytes": with_field(VOTE_WIRE, 4, list(b"\x01" * 32)),
    "value-too-long": with_field(VOTE_WIRE, 4, b"\x01" * 33),
    "value-too-short": with_field(VOTE_WIRE, 4, b"\x01" * 31),
    "value-empty": with_field(VOTE_WIRE, 4, b""),
    "validator-too-long": with_field(VOTE_WIRE, 5, KEY_A + b"\x00"),
    "signature-truncated": with_field(VOTE_WIRE, 6, b"\x05" * 63),
    "whole-message-map": {"kind": 2, "height": 7},
    "whole-message-empty-map": {},
    **{f"float-at-{i}": with_field(VOTE_WIRE, i, 1.0) for i in range(len(VOTE_WIRE))},
    **{f"nil-at-{i}": with_field(VOTE_WIRE, i, None) for i in (0, 1, 2, 3, 5, 6)},
}


@pytest.mark.parametrize("wire", BAD_VOTE_WIRES.values(), ids=BAD_VOTE_WIRES.keys())
def test_malformed_vote_is_rejected(wire: Any) -> None:
    with pytest.raises(codec.DecodeError):
        wire_decode(wire, Vote)


def test_vote_bytes_decoded_as_other_types_are_rejected() -> None:
    encoded = codec.encode(VOTE)
    others = (Proposal, Tx, Batch, CommitSig, Certificate, Evidence, DuplicateVote, int)
    for other in (*others, Chunk, ChunkAck, ChunkCertificate, ChunkRequest):
        with pytest.raises(codec.DecodeError):
            codec.decode(encoded, other)


PROPOSAL_WIRE = codec.to_wire(PROPOSAL)  # [4, height, round, pol_round, batch_id, proposer, sig]
BAD_PROPOSAL_WIRES = {
    "pol-round-equals-round": with_field(PROPOSAL_WIRE, 3, 2),
    "pol-round-above-round": with_field(PROPOSAL_WIRE, 3, 3),
    "pol-round-below-nil": with_field(PROPOSAL_WIRE, 3, -2),
    "round-zero-pol-zero": with_field(with_field(PROPOSAL_WIRE, 2, 0), 3, 0),
    "batch-id-too-long": with_field(PROPOSAL_WIRE, 4, b"\x02" * 33),
    "batch-id-nil": with_field(PROPOSAL_WIRE, 4, None),
    "float-pol-round": with_field(PROPOSAL_WIRE, 3, -1.0),
}


@pytest.mark.parametrize("wire", BAD_PROPOSAL_WIRES.values(), ids=BAD_PROPOSAL_WIRES.keys())
def test_malformed_proposal_is_rejected(wire: Any) -> None:
    with pytest.raises(codec.DecodeError):
        wire_decode(wire, Proposal)


def test_proposal_pol_round_boundaries_accepted() -> None:
    assert wire_decode(with_field(PROPOSAL_WIRE, 3, -1), Proposal).pol_round == -1
    assert wire_decode(with_field(PROPOSAL_WIRE, 3, 1), Proposal).pol_round == 1


HEADER_WIRE = codec.to_wire(HEADER)
BAD_HEADER_WIRES = {
    "float-timestamp": with_field(HEADER_WIRE, 6, 1.5),
    "negative-timestamp": with_field(HEADER_WIRE, 6, -1),
    "height-zero": with_field(HEADER_WIRE, 2, 0),
    "bytes-chain-id": with_field(HEADER_WIRE, 1, b"chain"),
    "parent-too-long": with_field(HEADER_WIRE, 4, b"\x00" * 33),
    "chunks-digest-short": with_field(HEADER_WIRE, 7, b"\x00" * 31),
    "vset-hash-nil": with_field(HEADER_WIRE, 9, None),
    "proposer-short": with_field(HEADER_WIRE, 5, b"\x00" * 31),
}


@pytest.mark.parametrize("wire", BAD_HEADER_WIRES.values(), ids=BAD_HEADER_WIRES.keys())
def test_malformed_header_is_rejected(wire: Any) -> None:
    with pytest.raises(codec.DecodeError):
        wire_decode(wire, BatchHeader)


CHUNK = Chunk(KEY_B, 0, (b"tx",))
CHUNK_WIRE = codec.to_wire(CHUNK)  # [10, author, seq, txs, bundle]
ENTRY = NamespaceEntry(5, 1, b"\x08" * 32)
CERT = ChunkCertificate(CHUNK.digest, KEY_B, 1, 2, (CommitSig(KEY_A, b"\x07" * 64),), (ENTRY,))
# [12, digest, author, tx_count, size_bytes, signatures, namespaces]
CERT_WIRE = codec.to_wire(CERT)
ENTRY_WIRE = codec.to_wire(ENTRY)  # [13, ns_id, tx_count, root]
BATCH_WIRE = [3, HEADER_WIRE, [CERT_WIRE], []]
BAD_BATCH_WIRES = {
    "chunks-not-list": with_field(BATCH_WIRE, 2, CERT_WIRE[1]),
    "chunks-contains-bytes": with_field(BATCH_WIRE, 2, [CHUNK.digest]),
    "chunks-contains-nil": with_field(BATCH_WIRE, 2, [None]),
    "chunks-map": with_field(BATCH_WIRE, 2, {}),
    "chunks-contains-a-chunk": with_field(BATCH_WIRE, 2, [CHUNK_WIRE]),
    "chunks-contains-commit-certificate": with_field(BATCH_WIRE, 2, [[7, 1, 0, bytes(32), []]]),
    "evidence-contains-vote": with_field(BATCH_WIRE, 3, [VOTE_WIRE]),
    "evidence-contains-bytes": with_field(BATCH_WIRE, 3, [b"\x00"]),
    "evidence-nil": with_field(BATCH_WIRE, 3, None),
    "header-is-vote": with_field(BATCH_WIRE, 1, VOTE_WIRE),
}


def test_batch_wire_fixture_is_valid() -> None:
    assert wire_decode(BATCH_WIRE, Batch) == Batch(HEADER, (CERT,), ())
    assert wire_decode(CHUNK_WIRE, Chunk) == CHUNK


@pytest.mark.parametrize("wire", BAD_BATCH_WIRES.values(), ids=BAD_BATCH_WIRES.keys())
def test_malformed_batch_is_rejected(wire: Any) -> None:
    with pytest.raises(codec.DecodeError):
        wire_decode(wire, Batch)


ACK_WIRE = codec.to_wire(ChunkAck(CHUNK.digest, KEY_B, 1, 2, bytes(32), KEY_A, b"\x07" * 64))
BAD_CHUNK_FAMILY_WIRES = {
    "chunk-no-txs": (with_field(CHUNK_WIRE, 3, []), Chunk),
    "chunk-bundle-int": (with_field(CHUNK_WIRE, 4, 1), Chunk),
    "chunk-bundle-nil": (with_field(CHUNK_WIRE, 4, None), Chunk),
    "chunk-negative-seq": (with_field(CHUNK_WIRE, 2, -1), Chunk),
    "chunk-author-short": (with_field(CHUNK_WIRE, 1, KEY_B[:31]), Chunk),
    "chunk-tx-str": (with_field(CHUNK_WIRE, 3, ["tx"]), Chunk),
    "chunk-tx-nil": (with_field(CHUNK_WIRE, 3, [None]), Chunk),
    "chunk-tx-then-str": (with_field(CHUNK_WIRE, 3, [b"tx", "tx"]), Chunk),
    "chunk-tx-then-int": (with_field(CHUNK_WIRE, 3, [b"tx", 7]), Chunk),
    "chunk-tx-then-bool": (with_field(CHUNK_WIRE, 3, [b"tx", True]), Chunk),
    "chunk-as-certificate": (CHUNK_WIRE, ChunkCertificate),
    "cert-zero-txs": (with_field(CERT_WIRE, 3, 0), ChunkCertificate),
    "cert-too-many-txs": (with_field(CERT_WIRE, 3, MAX_CHUNK_TXS + 1), ChunkCertificate),
    "cert-too-many-bytes": (with_field(CERT_WIRE, 4, MAX_CHUNK_BYTES + 1), ChunkCertificate),
    "cert-negative-bytes": (with_field(CERT_WIRE, 4, -1), ChunkCertificate),
    "cert-digest-short": (with_field(CERT_WIRE, 1, bytes(31)), ChunkCertificate),
    "cert-signature-short": (with_field(CERT_WIRE, 5, [[6, KEY_A, bytes(63)]]), ChunkCertificate),
    "cert-as-ack": (CERT_WIRE, ChunkAck),
    "ack-signature-short": (with_field(ACK_WIRE, 7, bytes(63)), ChunkAck),
    "ack-validator-long": (with_field(ACK_WIRE, 6, KEY_A + b"\x00"), ChunkAck),
    "ack-namespaces-root-short": (with_field(ACK_WIRE, 5, bytes(31)), ChunkAck),
    "cert-no-namespace-table": (with_field(CERT_WIRE, 6, []), ChunkCertificate),
    "cert-table-miscounts": (
        with_field(CERT_WIRE, 6, [with_field(ENTRY_WIRE, 2, 2)]),
        ChunkCertificate,
    ),
    "cert-table-unsorted": (
        with_field(
            with_field(with_field(CERT_WIRE, 3, 2), 6, [ENTRY_WIRE, with_field(ENTRY_WIRE, 1, 4)]),
            4,
            2,
        ),
        ChunkCertificate,
    ),
    "entry-zero-txs": (with_field(ENTRY_WIRE, 2, 0), NamespaceEntry),
    "entry-negative-id": (with_field(ENTRY_WIRE, 1, -1), NamespaceEntry),
    "entry-root-short": (with_field(ENTRY_WIRE, 3, bytes(31)), NamespaceEntry),
    "ack-zero-txs": (with_field(ACK_WIRE, 3, 0), ChunkAck),
    "request-no-digests": ([27, []], ChunkRequest),
    "request-digest-nil": ([27, [None]], ChunkRequest),
    "response-holds-a-certificate": ([28, [CERT_WIRE]], ChunkResponse),
}


def test_chunk_family_fixtures_are_valid() -> None:
    assert wire_decode(ACK_WIRE, ChunkAck).digest == CHUNK.digest
    assert wire_decode(CERT_WIRE, ChunkCertificate) == CERT
    assert wire_decode([27, [CHUNK.digest]], ChunkRequest) == ChunkRequest((CHUNK.digest,))
    assert wire_decode([28, [CHUNK_WIRE]], ChunkResponse) == ChunkResponse((CHUNK,))


@pytest.mark.parametrize(
    ("wire", "expected"), BAD_CHUNK_FAMILY_WIRES.values(), ids=BAD_CHUNK_FAMILY_WIRES.keys()
)
def test_malformed_chunk_messages_are_rejected(wire: Any, expected: Any) -> None:
    with pytest.raises(codec.DecodeError):
        wire_decode(wire, expected)


def test_tx_field_limits() -> None:
    assert wire_decode([1, "n" * 64, "s" * 64, b"\x00" * MAX_PAYLOAD], Tx).payload == (
        b"\x00" * MAX_PAYLOAD
    )
    for wire in (
        [1, "", "s", b""],  # empty namespace
        [1, "n" * 65, "s", b""],
        [1, "n", "s" * 65, b""],
        [1, "n", "s", b"\x00" * (MAX_PAYLOAD + 1)],
        [1, b"n", "s", b""],  # bytes where str
        [1, "n", "s", "payload"],  # str where bytes
    ):
        with pytest.raises(codec.DecodeError):
            wire_decode(wire, Tx)


def test_invalid_utf8_is_rejected() -> None:
    # fixstr of length 2 holding an invalid UTF-8 sequence, in the namespace position
    data = b"\x94\x01\xa2\xff\xfe\xa1a\xc4\x00"
    with pytest.raises(codec.DecodeError):
        codec.decode(data, Tx)
    assert codec.decode(b"\x94\x01\xa2ns\xa1a\xc4\x00", Tx) == Tx("ns", "a", b"")


def _vote(value: bytes | None, sig: bytes, validator: bytes = KEY_A, **kw: Any) -> Vote:
    fields = {"kind": VoteKind.PRECOMMIT, "height": 3, "round": 1, **kw}
    return Vote(value=value, validator=validator, signature=sig, **fields)


V_LOW = _vote(b"\x01" * 32, b"\x01" * 64)
V_HIGH = _vote(b"\x02" * 32, b"\x02" * 64)


def dv_wire(a: Vote, b: Vote) -> list[Any]:
    return [8, codec.to_wire(a), codec.to_wire(b)]


def test_duplicate_vote_fixture_is_valid() -> None:
    assert wire_decode(dv_wire(V_LOW, V_HIGH), Evidence) == DuplicateVote(V_LOW, V_HIGH)


BAD_DUPLICATE_VOTES = {
    "identical-votes": dv_wire(V_LOW, V_LOW),
    "same-value-different-signature": dv_wire(
        V_LOW, dataclasses.replace(V_HIGH, value=V_LOW.value)
    ),
    "wrong-order": dv_wire(V_HIGH, V_LOW),
    "different-validators": dv_wire(V_LOW, dataclasses.replace(V_HIGH, validator=KEY_B)),
    "different-kind": dv_wire(V_LOW, dataclasses.replace(V_HIGH, kind=VoteKind.PREVOTE)),
    "different-height": dv_wire(V_LOW, dataclasses.replace(V_HIGH, height=4)),
    "different-round": dv_wire(V_LOW, dataclasses.replace(V_HIGH, round=2)),
    "one-vote": [8, codec.to_wire(V_LOW)],
    "proposal-inside": [8, codec.to_wire(V_LOW), PROPOSAL_WIRE],
}


@pytest.mark.parametrize("wire", BAD_DUPLICATE_VOTES.values(), ids=BAD_DUPLICATE_VOTES.keys())
def test_malformed_duplicate_vote_is_rejected(wire: Any) -> None:
    for expected in (DuplicateVote, Evidence, tuple[Evidence, ...]):
        payload = [wire] if expected == tuple[Evidence, ...] else wire
        with pytest.raises(codec.DecodeError):
            wire_decode(payload, expected)


P_LOW = Proposal(3, 2, -1, b"\x01" * 32, KEY_A, b"\x01" * 64)
P_HIGH = Proposal(3, 2, -1, b"\x02" * 32, KEY_A, b"\x02" * 64)


def dp_wire(a: Proposal, b: Proposal) -> list[Any]:
    return [9, codec.to_wire(a), codec.to_wire(b)]


def test_duplicate_proposal_fixture_is_valid() -> None:
    assert wire_decode(dp_wire(P_LOW, P_HIGH), Evidence) == DuplicateProposal(P_LOW, P_HIGH)
    # same batch, different pol_round is still a conflicting pair of signed proposals
    other_pol = dataclasses.replace(P_HIGH, batch_id=P_LOW.batch_id, pol_round=1)
    assert wire_decode(dp_wire(P_LOW, other_pol), DuplicateProposal).second == other_pol


BAD_DUPLICATE_PROPOSALS = {
    "identical": dp_wire(P_LOW, P_LOW),
    "same-payload": dp_wire(P_LOW, dataclasses.replace(P_HIGH, batch_id=P_LOW.batch_id)),
    "wrong-order": dp_wire(P_HIGH, P_LOW),
    "different-proposers": dp_wire(P_LOW, dataclasses.replace(P_HIGH, proposer=KEY_B)),
    "different-round": dp_wire(P_LOW, dataclasses.replace(P_HIGH, round=3)),
    "different-height": dp_wire(P_LOW, dataclasses.replace(P_HIGH, height=4)),
    "vote-inside": [9, codec.to_wire(P_LOW), VOTE_WIRE],
}


@pytest.mark.parametrize(
    "wire", BAD_DUPLICATE_PROPOSALS.values(), ids=BAD_DUPLICATE_PROPOSALS.keys()
)
def test_malformed_duplicate_proposal_is_rejected(wire: Any) -> None:
    for expected in (DuplicateProposal, Evidence):
        with pytest.raises(codec.DecodeError):
            wire_decode(wire, expected)


def test_certificate_signatures_must_be_commit_sigs() -> None:
    good = [7, 1, 0, b"\x00" * 32, [[6, KEY_A, b"\x00" * 64]]]
    assert len(wire_decode(good, Certificate).signatures) == 1
    for sigs_field in (
        [VOTE_WIRE],
        [[6, KEY_A, b"\x00" * 63]],
        [[6, KEY_A]],
        b"",
        None,
    ):
        with pytest.raises(codec.DecodeError):
            wire_decode(with_field(good, 4, sigs_field), Certificate)


@pytest.mark.parametrize(
    "not_bytes",
    ["\x94\x01", None, 5, [1], (b"x",), object()],
    ids=["str", "none", "int", "list", "tuple", "object"],
)
def test_non_bytes_input_is_rejected(not_bytes: Any) -> None:
    with pytest.raises(codec.DecodeError):
        codec.decode(not_bytes, Vote)


def test_bytes_like_inputs_are_accepted() -> None:
    encoded = codec.encode(VOTE)
    assert codec.decode(bytearray(encoded), Vote) == VOTE
    assert codec.decode(memoryview(encoded), Vote) == VOTE


def test_empty_input_is_rejected() -> None:
    for expected in (Vote, int, bytes | None):
        with pytest.raises(codec.DecodeError):
            codec.decode(b"", expected)


def test_message_size_limit() -> None:
    limit = codec.MAX_MESSAGE_BYTES
    with pytest.raises(codec.DecodeError, match="exceeds"):
        codec.decode(b"\xc0" * (limit + 1), Chunk)

    # a real chunk of exactly the limit decodes; one byte more is refused before parsing
    probe = codec.encode(Chunk(KEY_A, 0, (b"",)))
    # the empty tx is a 2-byte bin8; a big tx is a 5-byte bin32 header plus its payload
    size = limit - (len(probe) - 2) - 5
    big = Chunk(KEY_A, 0, (b"\x00" * size,))
    encoded = codec.encode(big)
    assert len(encoded) == limit
    assert codec.decode(encoded, Chunk) == big
    bigger = codec.encode(Chunk(KEY_A, 0, (b"\x00" * (size + 1),)))
    assert len(bigger) == limit + 1
    with pytest.raises(codec.DecodeError, match="exceeds"):
        codec.decode(bigger, Chunk)


def test_int_range_is_enforced() -> None:
    assert codec.from_wire(2**64 - 1, int) == 2**64 - 1
    assert codec.from_wire(-(2**63), int) == -(2**63)
    for out_of_range in (2**64, -(2**63) - 1, 2**200):
        with pytest.raises(codec.DecodeError):
            codec.from_wire(out_of_range, int)
        with pytest.raises(codec.DecodeError):
            codec.from_wire(with_field(VOTE_WIRE, 2, out_of_range), Vote)


def test_scalar_decoders_are_exact() -> None:
    assert codec.decode(msgpack.packb(True), bool) is True
    assert codec.decode(msgpack.packb(3), int) == 3
    for data, expected in (
        (msgpack.packb(True), int),
        (msgpack.packb(1), bool),
        (msgpack.packb(1.0), int),
        (msgpack.packb(b"x", use_bin_type=True), str),
        (msgpack.packb("x", use_bin_type=True), bytes),
        (msgpack.packb(None), bytes),
        (msgpack.packb(1), VoteKind),
    ):
        with pytest.raises(codec.DecodeError):
            codec.decode(data, expected)
    assert codec.decode(msgpack.packb(None), bytes | None) is None
    assert codec.decode(msgpack.packb(3), VoteKind) is VoteKind.PRECOMMIT


def test_extension_types_are_rejected() -> None:
    ext = msgpack.packb(msgpack.ExtType(1, b"\x00"))
    timestamp = msgpack.packb(msgpack.Timestamp(0, 0))
    for data in (ext, timestamp):
        with pytest.raises(codec.DecodeError):
            codec.decode(data, bytes)


def test_unsupported_expected_type_is_a_decode_error() -> None:
    with pytest.raises(codec.DecodeError):
        codec.decode(msgpack.packb(1.0), float)


def test_non_canonical_encoding_is_rejected() -> None:
    tx = Tx("ns", "a", b"\x01")
    non_minimal = (
        b"\x94\xcf"
        + (1).to_bytes(8, "big")  # tag 1 as uint64
        + b"\xd9\x02ns"  # str8 instead of fixstr
        + b"\xa1a"
        + b"\xc6\x00\x00\x00\x01\x01"  # bin32 instead of bin8
    )
    assert non_minimal != codec.encode(tx)
    with pytest.raises(codec.DecodeError):
        codec.decode(non_minimal, Tx)


# --- collection bounds: checked before the items are decoded --------------------------------


@codec.register(900)
@dataclasses.dataclass(frozen=True)
class Bounded:
    items: Annotated[tuple[int, ...], codec.MaxLen(3)]


def test_a_bounded_tuple_is_refused_before_its_items_are_decoded() -> None:
    assert codec.decode(codec.encode(Bounded((1, 2, 3))), Bounded) == Bounded((1, 2, 3))
    # Items that would fail to decode: the length is refused first, so none were looked at.
    with pytest.raises(codec.DecodeError, match="at most 3 items, got 4"):
        codec.decode(msgpack.packb([900, ["x"] * 4]), Bounded)
    with pytest.raises(codec.DecodeError, match="expected int"):
        codec.decode(msgpack.packb([900, ["x"] * 3]), Bounded)


def _commit_sig(i: int) -> list[Any]:
    return [6, i.to_bytes(32, "big"), bytes(64)]


@pytest.mark.parametrize(
    ("wire", "expected", "limit"),
    [
        # A certificate cannot hold more distinct signers than a validator set has members.
        (
            lambda n: [7, 1, 0, bytes(32), [_commit_sig(i) for i in range(n)]],
            Certificate,
            MAX_VALIDATORS,
        ),
        # Items that would not decode: the length alone refuses them.
        (lambda n: [10, bytes(32), 0, [[0]] * n, False], Chunk, MAX_CHUNK_TXS),
        (
            lambda n: [
                12,
                bytes(32),
                bytes(32),
                1,
                0,
                [_commit_sig(i) for i in range(n)],
                [[13, 0, 1, bytes(32)]],
            ],
            ChunkCertificate,
            MAX_VALIDATORS,
        ),
        (
            lambda n: [12, bytes(32), bytes(32), 1, 0, [], [[0]] * n],
            ChunkCertificate,
            MAX_CHUNK_TXS,
        ),
        (lambda n: [27, [[0]] * n], ChunkRequest, MAX_CHUNKS_PER_FETCH),
        (lambda n: [28, [[0]] * n], ChunkResponse, MAX_CHUNKS_PER_FETCH),
        (lambda n: [24, [[0]] * n], SyncResponse, MAX_SYNC_ENTRIES),
    ],
    ids=[
        "certificate",
        "chunk",
        "chunk-certificate",
        "chunk-namespaces",
        "chunk-request",
        "chunk-response",
        "sync",
    ],
)
def test_wire_collections_are_bounded_before_decoding(wire: Any, expected: Any, limit: int) -> None:
    with pytest.raises(codec.DecodeError, match=f"at most {limit} items, got {limit + 1}"):
        codec.decode(msgpack.packb(wire(limit + 1), use_bin_type=True), expected)


HEADER_OF_ZEROS = codec.to_wire(
    BatchHeader("c", 1, 0, bytes(32), bytes(32), 0, bytes(32), bytes(32), bytes(32))
)


@pytest.mark.parametrize(
    ("wire", "limit"),
    [
        ([3, HEADER_OF_ZEROS, [], [[0]] * (MAX_EVIDENCE_PER_BATCH + 1)], MAX_EVIDENCE_PER_BATCH),
        ([3, HEADER_OF_ZEROS, [[0]] * (MAX_BATCH_CHUNKS + 1), []], MAX_BATCH_CHUNKS),
    ],
    ids=["evidence", "chunks"],
)
def test_batch_collections_are_bounded_before_decoding(wire: Any, limit: int) -> None:
    with pytest.raises(codec.DecodeError, match=f"at most {limit} items, got {limit + 1}"):
        codec.decode(msgpack.packb(wire, use_bin_type=True), Batch)


def test_committed_chunks_are_bounded_before_decoding() -> None:
    batch = [3, HEADER_OF_ZEROS, [], []]
    certificate = [7, 1, 0, bytes(32), []]
    wire = [23, batch, certificate, [[0]] * (MAX_BATCH_CHUNKS + 1)]
    with pytest.raises(codec.DecodeError, match=f"at most {MAX_BATCH_CHUNKS} items"):
        codec.decode(msgpack.packb(wire, use_bin_type=True), CommittedBatch)


@given(
    st.lists(
        st.one_of(st.integers(-(2**63), 2**64 - 1), st.binary(max_size=300), st.none()),
        max_size=8,
    )
)
def test_encode_plain_gives_the_canonical_bytes_of_encode(values: list[Any]) -> None:
    assert codec.encode_plain(values) == codec.encode(values)
