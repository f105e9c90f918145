"""The protocol's frozen data types: transactions, batches, proposals, votes, certificates and
equivocation evidence.

Objects validate their own shape on construction, so a decoded object is always well formed.
Signatures are checked by the ``verify`` methods, which need the chain id; signing is done by
``sign_*`` helpers so the signed payload is defined in exactly one place per message kind.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated

import msgpack

from . import codec, merkle
from .crypto import DIGEST_SIZE, PUBLIC_KEY_SIZE, SIGNATURE_SIZE, PrivateKey, digest, verify
from .threshold.leak import EarlyRelease

MAX_NAME = 64
MAX_PAYLOAD = 64 * 1024
NIL_ROUND = -1
# Wire bounds, checked before a collection's items are decoded: no honest message exceeds them.
MAX_VALIDATORS = 1_000  # so a certificate holds at most this many (distinct) signatures
MAX_EVIDENCE_PER_BATCH = 16
MAX_BATCH_CHUNKS = 1_024


def _need(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)


def _need_size(value: bytes, size: int, what: str) -> None:
    _need(len(value) == size, f"{what} must be {size} bytes, got {len(value)}")


class Step(enum.IntEnum):
    """Steps of a round, in the order a validator passes through them."""

    PROPOSE = 1
    PREVOTE = 2
    PRECOMMIT = 3


class VoteKind(enum.IntEnum):
    PREVOTE = 2
    PRECOMMIT = 3

    @property
    def step(self) -> Step:
        return Step(int(self))


_TX_TAG = 1


# The check every chunk's every transaction gets (msgspec, loaded at the first call so that
# `--help` does not import it): the namespace of a plain transaction, else None.
_plain_namespace: Callable[[bytes], str | None] | None = None


@codec.register(_TX_TAG)
@dataclass(frozen=True)
class Tx:
    """A rollup transaction: opaque payload plus the envelope the sequencer may filter on."""

    namespace: str
    sender: str
    payload: bytes

    def __post_init__(self) -> None:
        _need(0 < len(self.namespace) <= MAX_NAME, "namespace must be 1..64 characters")
        _need(len(self.sender) <= MAX_NAME, "sender must be at most 64 characters")
        _need(len(self.payload) <= MAX_PAYLOAD, f"payload exceeds {MAX_PAYLOAD} bytes")

    @cached_property
    def encoded(self) -> bytes:
        return codec.encode(self)

    @cached_property
    def id(self) -> bytes:
        return digest(self.encoded)


def tx_problem(encoded: bytes) -> str | None:
    """Why ``encoded`` is not a transaction's canonical encoding (None: it is), the verdict of
    ``codec.decode(encoded, Tx)``."""
    try:
        tx_namespace(encoded)
    except ValueError as exc:
        return str(exc)
    return None


def tx_namespace(encoded: bytes) -> str:
    """The namespace of the transaction ``encoded``; ValueError saying what is wrong when it is
    not a transaction's canonical encoding (the verdict of ``codec.decode(encoded, Tx)``).
    Every transaction of every chunk is checked on arrival, so a well-formed one is recognised
    here without building a :class:`Tx`; anything else is left to the codec, which says what
    is wrong."""
    global _plain_namespace
    if _plain_namespace is None:
        from .txfields import plain_namespace

        _plain_namespace = plain_namespace
    namespace = _plain_namespace(encoded)
    if namespace is not None:
        return namespace
    try:
        tx = codec.decode(encoded, Tx)
    except codec.DecodeError as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(tx, Tx):
        raise ValueError("not a transaction")
    return tx.namespace


def tx_id(encoded_tx: bytes) -> bytes:
    """The id of an already-encoded transaction (batches carry transactions encoded)."""
    return digest(encoded_tx)


@codec.register(2)
@dataclass(frozen=True)
class BatchHeader:
    """What a batch id commits to. ``round`` is the round the batch was built in, so the
    proposer that built it is ``proposer(height, round)`` even when a later round re-proposes it.

    ``last_commit`` is a commit certificate of the parent (None at height 1), as CometBFT's
    LastCommit: honest nodes may hold certificates of different rounds for one height, and
    anything that must be identical everywhere (the failed rounds leader reputation reads) is
    taken from this agreed one instead."""

    chain_id: str
    height: int
    round: int
    parent_id: bytes
    proposer: bytes
    timestamp_ms: int
    chunks_digest: bytes
    evidence_digest: bytes
    validator_set_hash: bytes
    last_commit: Certificate | None = None
    # The root over the batch's namespace table (:func:`batch_namespace_table`); the default
    # is the empty table's, right for a batch that orders no chunk.
    namespaces_root: bytes = merkle.EMPTY_COMMITMENT

    def __post_init__(self) -> None:
        _need(self.height >= 1 and self.round >= 0, "height must be >= 1 and round >= 0")
        _need(self.timestamp_ms >= 0, "timestamp must be >= 0")
        _need(
            self.last_commit is None or self.last_commit.height == self.height - 1,
            "last commit must certify the parent height",
        )
        for name in (
            "parent_id",
            "chunks_digest",
            "evidence_digest",
            "validator_set_hash",
            "namespaces_root",
        ):
            _need_size(getattr(self, name), DIGEST_SIZE, name)
        _need_size(self.proposer, PUBLIC_KEY_SIZE, "proposer")

    @cached_property
    def id(self) -> bytes:
        return digest(codec.encode(self))


def chunks_digest(chunks: tuple[ChunkCertificate, ...]) -> bytes:
    """Commits to what each certificate certifies (its signed payload), in order, and not to
    the acks: any valid certificate of a chunk proves the same, and encoding every ack of
    hundreds of certificates for each proposal check cost more than verifying them."""
    return digest(b"".join(len(p).to_bytes(2, "big") + p for p in (c.payload for c in chunks)))


def evidence_digest(evidence: tuple[Evidence, ...]) -> bytes:
    return digest(codec.encode(evidence))


@codec.register(3)
@dataclass(frozen=True)
class Batch:
    """The value consensus decides on: a header, the ordered certificates of the chunks it
    commits (their transactions travel apart, see :class:`Chunk`) and evidence."""

    header: BatchHeader
    chunks: Annotated[tuple[ChunkCertificate, ...], codec.MaxLen(MAX_BATCH_CHUNKS)]
    evidence: Annotated[tuple[Evidence, ...], codec.MaxLen(MAX_EVIDENCE_PER_BATCH)]

    @property
    def id(self) -> bytes:
        return self.header.id

    @property
    def height(self) -> int:
        return self.header.height

    @property
    def tx_count(self) -> int:
        return sum(c.tx_count for c in self.chunks)

    @property
    def chunk_digests(self) -> tuple[bytes, ...]:
        return tuple(c.digest for c in self.chunks)

    def body_matches_header(self) -> bool:
        """True when the header's digests commit to exactly this body."""
        return self.header.chunks_digest == chunks_digest(self.chunks) and (
            self.header.evidence_digest == evidence_digest(self.evidence)
        )


def proposal_payload(height: int, round: int, pol_round: int, batch_id: bytes) -> bytes:
    return codec.encode_plain([height, round, pol_round, batch_id])


@codec.register(4)
@dataclass(frozen=True)
class Proposal:
    """A signed proposal of a batch id for (height, round); the batch travels beside it."""

    height: int
    round: int
    pol_round: int
    batch_id: bytes
    proposer: bytes
    signature: bytes

    def __post_init__(self) -> None:
        _need(self.height >= 1 and self.round >= 0, "height must be >= 1 and round >= 0")
        _need(NIL_ROUND <= self.pol_round < self.round, "pol_round must be in [-1, round)")
        _need_size(self.batch_id, DIGEST_SIZE, "batch_id")
        _need_size(self.proposer, PUBLIC_KEY_SIZE, "proposer")
        _need_size(self.signature, SIGNATURE_SIZE, "signature")

    @property
    def payload(self) -> bytes:
        return proposal_payload(self.height, self.round, self.pol_round, self.batch_id)

    def verify(self, chain_id: str) -> bool:
        return verify(self.proposer, chain_id, "proposal", self.payload, self.signature)


def sign_proposal(
    key: PrivateKey, chain_id: str, height: int, round: int, pol_round: int, batch_id: bytes
) -> Proposal:
    payload = proposal_payload(height, round, pol_round, batch_id)
    signature = key.sign(chain_id, "proposal", payload)
    return Proposal(height, round, pol_round, batch_id, key.public_key, signature)


def vote_payload(kind: VoteKind, height: int, round: int, value: bytes | None) -> bytes:
    return codec.encode_plain([int(kind), height, round, value])


def vote_from_payload(payload: bytes, validator: bytes, signature: bytes) -> Vote:
    """Rebuild a vote we signed from its payload (as kept in the sign-state record)."""
    kind, height, round, value = msgpack.unpackb(payload)
    return Vote(VoteKind(kind), height, round, value, validator, signature)


@codec.register(5)
@dataclass(frozen=True)
class Vote:
    """A signed prevote or precommit for a batch id, or for nil (``value is None``)."""

    kind: VoteKind
    height: int
    round: int
    value: bytes | None
    validator: bytes
    signature: bytes

    def __post_init__(self) -> None:
        _need(isinstance(self.kind, VoteKind), "vote kind must be a VoteKind")
        _need(self.height >= 1 and self.round >= 0, "height must be >= 1 and round >= 0")
        if self.value is not None:
            _need_size(self.value, DIGEST_SIZE, "vote value")
        _need_size(self.validator, PUBLIC_KEY_SIZE, "validator")
        _need_size(self.signature, SIGNATURE_SIZE, "signature")

    @property
    def payload(self) -> bytes:
        return vote_payload(self.kind, self.height, self.round, self.value)

    def verify(self, chain_id: str) -> bool:
        return verify(
            self.validator, chain_id, self.kind.name.lower(), self.payload, self.signature
        )


def sign_vote(
    key: PrivateKey, chain_id: str, kind: VoteKind, height: int, round: int, value: bytes | None
) -> Vote:
    signature = key.sign(chain_id, kind.name.lower(), vote_payload(kind, height, round, value))
    return Vote(kind, height, round, value, key.public_key, signature)


@codec.register(6)
@dataclass(frozen=True)
class CommitSig:
    validator: bytes
    signature: bytes

    def __post_init__(self) -> None:
        _need_size(self.validator, PUBLIC_KEY_SIZE, "validator")
        _need_size(self.signature, SIGNATURE_SIZE, "signature")


@codec.register(7)
@dataclass(frozen=True)
class Certificate:
    """Proof of commit: precommit signatures for ``batch_id`` at (height, round).

    Whether they add up to a quorum depends on the validator set, so that check lives in
    :meth:`sequencer_net.validators.ValidatorSet.verify_certificate`."""

    height: int
    round: int
    batch_id: bytes
    signatures: Annotated[tuple[CommitSig, ...], codec.MaxLen(MAX_VALIDATORS)]

    def __post_init__(self) -> None:
        _need(self.height >= 1 and self.round >= 0, "height must be >= 1 and round >= 0")
        _need_size(self.batch_id, DIGEST_SIZE, "batch_id")

    def votes(self) -> list[Vote]:
        """The precommits the signatures stand for (for verification)."""
        return [
            Vote(
                VoteKind.PRECOMMIT, self.height, self.round, self.batch_id, s.validator, s.signature
            )
            for s in self.signatures
        ]


@codec.register(8)
@dataclass(frozen=True)
class DuplicateVote:
    """Two different votes signed by one validator for the same (height, round, kind)."""

    first: Vote
    second: Vote

    def __post_init__(self) -> None:
        a, b = self.first, self.second
        _need(a.validator == b.validator, "evidence votes are from different validators")
        _need((a.kind, a.height, a.round) == (b.kind, b.height, b.round), "votes do not conflict")
        _need(a.value != b.value, "evidence votes are for the same value")
        _need(a.signature < b.signature, "evidence votes must be ordered by signature")

    @property
    def offender(self) -> bytes:
        return self.first.validator

    @property
    def height(self) -> int:
        return self.first.height

    def verify(self, chain_id: str) -> bool:
        return self.first.verify(chain_id) and self.second.verify(chain_id)


@codec.register(9)
@dataclass(frozen=True)
class DuplicateProposal:
    """Two different proposals signed by one proposer for the same (height, round)."""

    first: Proposal
    second: Proposal

    def __post_init__(self) -> None:
        a, b = self.first, self.second
        _need(a.proposer == b.proposer, "evidence proposals are from different proposers")
        _need((a.height, a.round) == (b.height, b.round), "proposals do not conflict")
        _need(a.payload != b.payload, "evidence proposals are identical")
        _need(a.signature < b.signature, "evidence proposals must be ordered by signature")

    @property
    def offender(self) -> bytes:
        return self.first.proposer

    @property
    def height(self) -> int:
        return self.first.height

    def verify(self, chain_id: str) -> bool:
        return self.first.verify(chain_id) and self.second.verify(chain_id)


# EarlyRelease: decryption shares released before their commit (threshold/leak.py).
Evidence = DuplicateVote | DuplicateProposal | EarlyRelease


def make_evidence(a: Vote | Proposal, b: Vote | Proposal) -> Evidence:
    """Evidence from two conflicting signed messages, in canonical (signature) order."""
    first, second = sorted((a, b), key=lambda m: m.signature)
    if isinstance(first, Vote) and isinstance(second, Vote):
        return DuplicateVote(first, second)
    if isinstance(first, Proposal) and isinstance(second, Proposal):
        return DuplicateProposal(first, second)
    raise ValueError("evidence needs two messages of the same kind")


def evidence_id(evidence: Evidence) -> bytes:
    return digest(codec.encode(evidence))


# ---- the data path: chunks of a validator's lane, availability acks and certificates ----

MAX_CHUNK_TXS = 4_096
MAX_CHUNK_BYTES = 1024 * 1024
MAX_BUNDLE_TXS = 64  # transactions in one atomic bundle
MAX_BUNDLE_BYTES = 256 * 1024  # encoded bytes of one bundle's transactions
ACK_KIND = "chunk-ack"


@codec.register(10)
@dataclass(frozen=True)
class Chunk:
    """Encoded transactions from ``author``'s lane; ``seq`` numbers the author's chunks so two
    chunks with equal contents still have different digests. A ``bundle`` chunk is one
    client's atomic bundle: it commits whole, contiguous and in order, or not at all (see
    :meth:`sequencer_net.messages.CommittedBatch.without_repeats`)."""

    author: bytes
    seq: int
    txs: Annotated[tuple[bytes, ...], codec.MaxLen(MAX_CHUNK_TXS)]
    bundle: bool = False

    def __post_init__(self) -> None:
        if len(self.author) != PUBLIC_KEY_SIZE:
            raise ValueError(f"chunk author must be {PUBLIC_KEY_SIZE} bytes")
        if self.seq < 0:
            raise ValueError("chunk seq must be >= 0")
        if not 0 < len(self.txs) <= MAX_CHUNK_TXS:
            raise ValueError(f"a chunk holds 1..{MAX_CHUNK_TXS} transactions")
        if self.bundle and len(self.txs) > MAX_BUNDLE_TXS:
            raise ValueError(f"a bundle holds 1..{MAX_BUNDLE_TXS} transactions")

    @cached_property
    def encoded(self) -> bytes:
        return codec.encode(self)

    @cached_property
    def digest(self) -> bytes:
        return digest(self.encoded)

    @classmethod
    def packed(
        cls,
        author: bytes,
        seq: int,
        txs: tuple[bytes, ...],
        tx_ids: tuple[bytes, ...],
        bundle: bool = False,
    ) -> Chunk:
        """A chunk of our own lane, whose transactions' ids admission already computed."""
        if len(tx_ids) != len(txs):
            raise ValueError("one id per transaction")
        chunk = cls(author, seq, txs, bundle)
        chunk.__dict__["tx_ids"] = tx_ids  # where the cached property below keeps its value
        return chunk

    @cached_property
    def tx_ids(self) -> tuple[bytes, ...]:
        return tuple(tx_id(tx) for tx in self.txs)

    @cached_property
    def size_bytes(self) -> int:
        return sum(len(tx) for tx in self.txs)


@codec.register(14)
@dataclass(frozen=True)
class Bundle:
    """A client's atomic bundle as a node keeps it among its acknowledged transactions, so
    that a restart re-admits it as a bundle."""

    txs: Annotated[tuple[bytes, ...], codec.MaxLen(MAX_BUNDLE_TXS)]

    @staticmethod
    def of(encoded: bytes) -> Bundle | None:
        """The bundle ``encoded`` holds, None for anything else (a transaction's encoding
        starts otherwise: its tag is 1)."""
        if not encoded.startswith(_BUNDLE_PREFIX):
            return None
        try:
            bundle: Bundle = codec.decode(encoded, Bundle)
        except codec.DecodeError:
            return None
        return bundle

    @cached_property
    def tx_ids(self) -> tuple[bytes, ...]:
        return tuple(tx_id(tx) for tx in self.txs)


_BUNDLE_PREFIX = b"\x92\x0e"  # a msgpack list of two items, the first the tag 14


MAX_NAMESPACE_ID = 2**63 - 1


@codec.register(13)
@dataclass(frozen=True)
class NamespaceEntry:
    """One row of a namespace table: ``tx_count`` transactions of namespace ``ns_id`` and the
    Merkle root over them in order. In a chunk's table the leaves are the transactions' ids;
    in a batch's, each leaf is the encoded entry of one chunk carrying the namespace, in batch
    order (see :mod:`sequencer_net.namespaces`)."""

    ns_id: int
    tx_count: int
    root: bytes

    def __post_init__(self) -> None:
        _need(0 <= self.ns_id <= MAX_NAMESPACE_ID, "namespace id out of range")
        _need(self.tx_count >= 1, "a namespace entry counts at least one transaction")
        _need_size(self.root, DIGEST_SIZE, "namespace root")

    @cached_property
    def encoded(self) -> bytes:
        return codec.encode(self)


def table_root(table: tuple[NamespaceEntry, ...]) -> bytes:
    """What a table commits to: the tree head (root and size) over one leaf per entry, in
    (sorted) order."""
    return merkle.commitment([entry.encoded for entry in table])


def ack_payload(
    chunk_digest: bytes, author: bytes, tx_count: int, size_bytes: int, namespaces_root: bytes
) -> bytes:
    """What an ack signs: the digest, what a proposer reads without the chunk, and the root of
    the chunk's namespace table (the signer computed it from the data)."""
    return codec.encode_plain([chunk_digest, author, tx_count, size_bytes, namespaces_root])


@codec.register(11)
@dataclass(frozen=True)
class ChunkAck:
    """``validator`` stores the chunk with ``digest`` (of ``author``, ``tx_count``
    transactions of ``size_bytes`` in all, whose namespace table has ``namespaces_root``) and
    will serve it."""

    digest: bytes
    author: bytes
    tx_count: int
    size_bytes: int
    namespaces_root: bytes
    validator: bytes
    signature: bytes

    def __post_init__(self) -> None:
        _check_description(self.digest, self.author, self.tx_count, self.size_bytes)
        _need_size(self.namespaces_root, DIGEST_SIZE, "namespaces_root")
        if len(self.validator) != PUBLIC_KEY_SIZE or len(self.signature) != SIGNATURE_SIZE:
            raise ValueError("chunk ack: bad validator or signature size")

    @property
    def payload(self) -> bytes:
        return ack_payload(
            self.digest, self.author, self.tx_count, self.size_bytes, self.namespaces_root
        )

    def verify(self, chain_id: str) -> bool:
        return verify(self.validator, chain_id, ACK_KIND, self.payload, self.signature)


def _check_description(chunk_digest: bytes, author: bytes, tx_count: int, size: int) -> None:
    if len(chunk_digest) != DIGEST_SIZE or len(author) != PUBLIC_KEY_SIZE:
        raise ValueError("chunk: bad digest or author size")
    if not 0 < tx_count <= MAX_CHUNK_TXS or not 0 <= size <= MAX_CHUNK_BYTES:
        raise ValueError("chunk: counts out of range")


@codec.register(12)
@dataclass(frozen=True)
class ChunkCertificate:
    """Availability acks on one chunk from more than a third of the stake. The acks sign
    ``tx_count`` and ``size_bytes`` too, so a proposer can fill a batch by its limits without
    holding the chunk. ``namespaces`` is the chunk's namespace table, sorted by id; the acks
    sign its root, so a batch's table is computed from its certificates alone."""

    digest: bytes
    author: bytes
    tx_count: int
    size_bytes: int
    signatures: Annotated[tuple[CommitSig, ...], codec.MaxLen(MAX_VALIDATORS)]
    namespaces: Annotated[tuple[NamespaceEntry, ...], codec.MaxLen(MAX_CHUNK_TXS)]

    def __post_init__(self) -> None:
        _check_description(self.digest, self.author, self.tx_count, self.size_bytes)
        ids = [e.ns_id for e in self.namespaces]
        _need(
            all(a < b for a, b in itertools.pairwise(ids)),
            "chunk certificate: namespace table not sorted by id",
        )
        _need(
            sum(e.tx_count for e in self.namespaces) == self.tx_count,
            "chunk certificate: namespace table does not count the chunk's transactions",
        )

    @cached_property
    def namespaces_root(self) -> bytes:
        return table_root(self.namespaces)

    @cached_property
    def payload(self) -> bytes:
        return ack_payload(
            self.digest, self.author, self.tx_count, self.size_bytes, self.namespaces_root
        )

    @property
    def signers(self) -> tuple[bytes, ...]:
        return tuple(s.validator for s in self.signatures)
