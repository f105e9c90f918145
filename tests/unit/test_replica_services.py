"""The replica's node services, driven sans-IO: evidence pool and slashing, validator-set
history across a restart, forced inclusion and leader reputation."""

from __future__ import annotations

from dataclasses import replace
from itertools import count

import pytest

from sequencer_net import codec
from sequencer_net.chunks import certify, sign_ack
from sequencer_net.crypto import PrivateKey
from sequencer_net.genesis import ChainParams, Genesis
from sequencer_net.messages import (
    CommittedBatch,
    EvidenceGossip,
    ProposalEcho,
    ProposalMessage,
    SignedChunk,
    SyncResponse,
    decode_message,
)
from sequencer_net.namespaces import Namespace, Registry, batch_root, reservations, table_of
from sequencer_net.replica import (
    CHUNK,
    GENESIS_PARENT,
    MAX_BUFFERED_PROPOSALS,
    MAX_ROUNDS_AHEAD,
    EvidenceFound,
    InclusionEnforced,
    Rejected,
    Replica,
    Send,
    Slashed,
)
from sequencer_net.replica.validity import batch_problem
from sequencer_net.reputation import skipped_proposers
from sequencer_net.store.memory import MemoryChainStore, MemorySignStateStore
from sequencer_net.types import (
    Batch,
    BatchHeader,
    Certificate,
    Chunk,
    ChunkCertificate,
    CommitSig,
    DuplicateVote,
    Evidence,
    Proposal,
    Tx,
    Vote,
    VoteKind,
    chunks_digest,
    evidence_digest,
    make_evidence,
    sign_proposal,
    sign_vote,
)
from sequencer_net.validators import Validator, ValidatorSet

CHAIN = "services"
KEYS = {f"n{i}": PrivateKey.from_label(f"services-{i}") for i in range(1, 5)}
BY_KEY = {k.public_key: k for k in KEYS.values()}


def genesis(namespaces: tuple[Namespace, ...] = (), **params: object) -> Genesis:
    validators = tuple(Validator(name, key.public_key, 10) for name, key in KEYS.items())
    chain_params = ChainParams(**params)  # type: ignore[arg-type]
    return Genesis(CHAIN, validators, params=chain_params, namespaces=namespaces)


def replica(
    name: str = "n2",
    chain: MemoryChainStore | None = None,
    namespaces: tuple[Namespace, ...] = (),
    **params: object,
) -> Replica:
    node = Replica(
        genesis(namespaces, **params),
        KEYS[name],
        chain or MemoryChainStore(),
        MemorySignStateStore(),
    )
    node.start(0)
    return node


def double_vote(name: str, height: int = 1) -> DuplicateVote:
    key = KEYS[name]
    a = sign_vote(key, CHAIN, VoteKind.PREVOTE, height, 0, b"\x01" * 32)
    b = sign_vote(key, CHAIN, VoteKind.PREVOTE, height, 0, None)
    evidence = make_evidence(a, b)
    assert isinstance(evidence, DuplicateVote)
    return evidence


_seq = count()


def certified(
    txs: tuple[bytes, ...],
    author: str = "n1",
    signers: tuple[str, ...] = ("n1", "n3"),
    registry: Registry | None = None,
) -> tuple[Chunk, ChunkCertificate]:
    """A chunk of ``author``'s lane and its certificate from ``signers``' acks."""
    chunk = Chunk(KEYS[author].public_key, next(_seq), txs)
    table = table_of(chunk, registry)
    acks = [sign_ack(KEYS[name], CHAIN, chunk, table) for name in signers]
    sigs = tuple(
        sorted((CommitSig(a.validator, a.signature) for a in acks), key=lambda c: c.validator)
    )
    return chunk, certify(acks[0], sigs, table)


def batch_for(
    node: Replica,
    round: int = 0,
    chunks: tuple[ChunkCertificate, ...] = (),
    evidence=(),
    built_ms: int = 0,
) -> Batch:
    """A batch the proposer of ``round`` could build on ``node``'s chain."""
    parent = node.chain.get(node.height - 1)
    header = BatchHeader(
        chain_id=CHAIN,
        height=node.height,
        round=round,
        parent_id=parent.batch.id if parent else GENESIS_PARENT,
        proposer=node.validators.proposer_for_round(round).public_key,
        timestamp_ms=built_ms or node.height * 1000,
        chunks_digest=chunks_digest(chunks),
        evidence_digest=evidence_digest(tuple(evidence)),
        validator_set_hash=node.validators.hash,
        last_commit=parent.certificate if parent else None,
        namespaces_root=batch_root(chunks),
    )
    return Batch(header, chunks, tuple(evidence))


def commit(
    node: Replica, batch: Batch, round: int = 0, now_ms: int = 0, chunks: tuple[Chunk, ...] = ()
) -> list[object]:
    """Feed ``node`` a certified commit of ``batch`` and its ``chunks`` (as catch-up would)."""
    signers = [BY_KEY[v.public_key] for v in node.validators.active]
    votes = [
        sign_vote(k, CHAIN, VoteKind.PRECOMMIT, batch.height, round, batch.id) for k in signers
    ]
    signatures = tuple(
        sorted((CommitSig(v.validator, v.signature) for v in votes), key=lambda s: s.validator)
    )
    certificate = Certificate(batch.height, round, batch.id, signatures)
    entry = CommittedBatch(batch, certificate, chunks)
    outputs = node.receive(b"peer", SyncResponse((entry,)), now_ms)
    rejected = [o for o in outputs if isinstance(o, Rejected)]
    assert not rejected, rejected
    return outputs


def propose(node: Replica, batch: Batch, round: int = 0, now_ms: int = 0) -> list[object]:
    """``batch`` proposed in ``round``, arriving at ``now_ms`` (just after it was built)."""
    proposer = BY_KEY[batch.header.proposer]
    proposal = sign_proposal(proposer, CHAIN, batch.height, round, -1, batch.id)
    message = ProposalMessage(proposal, batch)
    return node.receive(b"peer", message, now_ms or batch.header.timestamp_ms + 1)


def own_prevote(outputs: list[object], node: Replica) -> Vote:
    votes = [
        o.message
        for o in outputs
        if isinstance(o, Send)
        and isinstance(o.message, Vote)
        and o.message.validator == node.key.public_key
    ]
    assert len(votes) == 1, votes
    return votes[0]


def tx(sender: str, n: int) -> bytes:
    return Tx("rollup", sender, n.to_bytes(4, "big")).encoded


# ---- evidence and slashing -------------------------------------------------------------------


def test_detected_equivocation_is_reported_once_and_gossiped() -> None:
    node = replica()
    evidence = double_vote("n1")
    outputs = node.receive(b"peer", evidence.first, 0) + node.receive(b"peer", evidence.second, 0)
    assert [o.evidence for o in outputs if isinstance(o, EvidenceFound)] == [evidence]
    assert any(isinstance(o, Send) and o.message == EvidenceGossip(evidence) for o in outputs)
    again = node.receive(b"other", EvidenceGossip(evidence), 0)
    assert not any(isinstance(o, EvidenceFound | Rejected) for o in again)


def test_committed_evidence_slashes_and_jails_from_the_next_height_and_survives_restart() -> None:
    chain = MemoryChainStore()
    node = replica(chain=chain)
    evidence = double_vote("n1")
    node.receive(b"peer", EvidenceGossip(evidence), 0)
    outputs = commit(node, batch_for(node, evidence=(evidence,)))
    records = [o.record for o in outputs if isinstance(o, Slashed)]
    assert len(records) == 1
    record = records[0]
    assert (record.stake_before, record.stake_after, record.committed_height) == (10, 9, 1)
    offender = node.validators.get(KEYS["n1"].public_key)
    assert offender is not None and offender.jailed and offender.power == 9
    assert node.validators.total_power == 30
    assert len(node.evidence) == 0
    # The same evidence, or any other against the tombstoned key, is never applied again.
    assert not any(
        isinstance(o, EvidenceFound) for o in node.receive(b"p", EvidenceGossip(evidence), 0)
    )
    later = double_vote("n1", height=2)
    assert not any(
        isinstance(o, EvidenceFound) for o in node.receive(b"p", EvidenceGossip(later), 0)
    )
    # After a restart the stored validator-set history brings the jail back.
    restarted = replica(chain=chain)
    assert restarted.validators.get(KEYS["n1"].public_key).jailed  # type: ignore[union-attr]
    assert restarted.validators.hash == node.validators.hash
    assert restarted.slashes[KEYS["n1"].public_key] == 1
    assert chain.slash_records() == [record]


def test_the_next_proposer_includes_pending_evidence() -> None:
    node = replica()
    evidence = double_vote("n3")
    node.receive(b"peer", EvidenceGossip(evidence), 0)
    proposer = node.validators.proposer_for_round(0).name
    builder = Replica(genesis(), KEYS[proposer], MemoryChainStore(), MemorySignStateStore())
    builder.receive(b"peer", EvidenceGossip(evidence), 0)
    outputs = builder.start(0)
    proposals = [
        o.message for o in outputs if isinstance(o, Send) and isinstance(o.message, ProposalMessage)
    ]
    assert proposals and proposals[0].batch.evidence == (evidence,)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: double_vote("n1", height=5), "ahead of"),
        (lambda: _forged_signature(), "signature does not verify"),
        (lambda: _stranger_evidence(), "not a validator"),
    ],
)
def test_forged_or_inapplicable_evidence_from_a_peer_is_refused(make, reason: str) -> None:
    node = replica()
    outputs = node.receive(b"mallory", EvidenceGossip(make()), 0)
    assert [o.peer for o in outputs if isinstance(o, Rejected)] == [b"mallory"]
    assert reason in next(o.reason for o in outputs if isinstance(o, Rejected))
    assert not any(isinstance(o, EvidenceFound) for o in outputs)
    assert len(node.evidence) == 0


def _forged_signature() -> Evidence:
    evidence = double_vote("n1")
    bad = replace(evidence.second, signature=bytes(64))
    return make_evidence(evidence.first, bad)


def _stranger_evidence() -> Evidence:
    stranger = PrivateKey.from_label("stranger")
    a = sign_vote(stranger, CHAIN, VoteKind.PREVOTE, 1, 0, b"\x02" * 32)
    b = sign_vote(stranger, CHAIN, VoteKind.PREVOTE, 1, 0, None)
    return make_evidence(a, b)


def test_evidence_older_than_max_age_is_refused() -> None:
    node = replica(max_evidence_age=2)
    for _ in range(3):
        commit(node, batch_for(node))
    outputs = node.receive(b"mallory", EvidenceGossip(double_vote("n1", height=1)), 0)
    assert any(isinstance(o, Rejected) and "older than 2" in o.reason for o in outputs)


@pytest.mark.parametrize(
    "wire",
    [
        # two identical votes, and votes at different heights: not evidence at all
        lambda v: [25, [8, codec.to_wire(v), codec.to_wire(v)]],
        lambda v: [
            25,
            [
                8,
                codec.to_wire(v),
                codec.to_wire(sign_vote(KEYS["n1"], CHAIN, VoteKind.PREVOTE, 2, 0, None)),
            ],
        ],
    ],
)
def test_evidence_of_no_conflict_does_not_even_decode(wire) -> None:
    vote = sign_vote(KEYS["n1"], CHAIN, VoteKind.PREVOTE, 1, 0, None)
    with pytest.raises(codec.DecodeError):
        decode_message(codec.encode(wire(vote)))


def test_a_batch_with_bad_evidence_gets_a_nil_prevote() -> None:
    node = replica()
    batch = batch_for(node, evidence=(_forged_signature(),))
    assert own_prevote(propose(node, batch), node).value is None


def test_an_echoed_conflicting_proposal_is_evidence() -> None:
    node = replica()
    batch = batch_for(node)
    propose(node, batch)
    other = replace(batch, header=replace(batch.header, timestamp_ms=batch.header.timestamp_ms + 1))
    proposer = BY_KEY[batch.header.proposer]
    echoed = sign_proposal(proposer, CHAIN, 1, 0, -1, other.id)
    outputs = node.receive(b"peer", ProposalEcho(echoed), 0)
    found = [o.evidence for o in outputs if isinstance(o, EvidenceFound)]
    assert len(found) == 1 and found[0].offender == proposer.public_key


# ---- forced inclusion ------------------------------------------------------------------------


GRACE_MS = 50


def hold(node: Replica, cert: ChunkCertificate, now_ms: int) -> None:
    """``node`` learns of a certified chunk at ``now_ms``."""
    outputs = node.receive(b"peer", cert, now_ms)
    assert not [o for o in outputs if isinstance(o, Rejected)]


def overdue_node(**params: object) -> tuple[Replica, ChunkCertificate]:
    """n2 holding a chunk's certificate since height 1, now at height 1 + deadline, entered
    long after the grace."""
    node = replica(inclusion_deadline=2, inclusion_grace_ms=GRACE_MS, reputation_window=0, **params)
    _, cert = certified((tx("alice", 1),))
    hold(node, cert, 0)
    for i in range(2):
        commit(node, batch_for(node), now_ms=1000 * (i + 1))
    return node, cert


def test_a_chunk_that_may_not_have_reached_the_proposer_is_not_held_against_it() -> None:
    """Dissemination lag: held for the deadline in heights, but its certificate arrived just
    before this node entered the height, when the proposer was already building. An honest
    proposer that omits it is neither accused nor refused."""
    node = replica(inclusion_deadline=1, inclusion_grace_ms=GRACE_MS, reputation_window=0)
    hold(node, certified((tx("alice", 1),))[1], 1000 - GRACE_MS + 1)
    commit(node, batch_for(node, built_ms=500), now_ms=1000)
    batch = batch_for(node, built_ms=1000)
    outputs = propose(node, batch)
    assert own_prevote(outputs, node).value == batch.id
    assert node.censorship.proposers[batch.header.proposer].overdue_omitted == 0
    assert not any(isinstance(o, InclusionEnforced) for o in outputs)


def test_a_clients_transaction_counts_from_when_its_chunk_was_certified() -> None:
    """The submitting node has a client's transaction before anyone else, and its chunk is
    known to nobody until the acks certify it: until then no proposer could order it."""
    node = replica(inclusion_deadline=1, inclusion_grace_ms=GRACE_MS, reputation_window=0)
    node.submit(tx("alice", 1), 0)
    streamed = next(o.message for o in node.on_timer(CHUNK, 0) if isinstance(o, Send))
    assert isinstance(streamed, SignedChunk)
    chunk = streamed.chunk
    outputs = node.receive(
        b"n3", sign_ack(KEYS["n3"], CHAIN, chunk, table_of(chunk)), 1000 - GRACE_MS + 1
    )
    assert next(o.message for o in outputs if isinstance(o, Send)).digest == chunk.digest
    commit(node, batch_for(node, built_ms=500), now_ms=1000)
    batch = batch_for(node, built_ms=1000)
    assert own_prevote(propose(node, batch), node).value == batch.id
    assert node.censorship.proposers[batch.header.proposer].overdue_omitted == 0


def test_a_lagging_node_judges_a_proposal_by_when_it_was_built() -> None:
    """This node entered the height (and got the proposal) 2 s after the batch was built: by
    its own clock the chunk is long overdue, but the proposer could not have had it, and the
    nodes that kept up judge the same proposal by the same build time."""
    node = replica(inclusion_deadline=1, inclusion_grace_ms=GRACE_MS, reputation_window=0)
    hold(node, certified((tx("alice", 1),))[1], 1000 - GRACE_MS + 1)
    commit(node, batch_for(node, built_ms=500), now_ms=3000)
    batch = batch_for(node, built_ms=1000)
    assert own_prevote(propose(node, batch, now_ms=3001), node).value == batch.id
    assert node.censorship.proposers[batch.header.proposer].overdue_omitted == 0


def test_past_the_deadline_and_the_grace_an_omission_is_refused_and_counted() -> None:
    node = replica(inclusion_deadline=1, inclusion_grace_ms=GRACE_MS, reputation_window=0)
    hold(node, certified((tx("alice", 1),))[1], 1000 - GRACE_MS)
    commit(node, batch_for(node, built_ms=500), now_ms=1000)
    batch = batch_for(node, built_ms=1000)
    assert own_prevote(propose(node, batch), node).value is None
    assert node.censorship.proposers[batch.header.proposer].overdue_omitted == 1


def test_a_proposal_leaving_out_an_overdue_chunk_gets_a_nil_prevote() -> None:
    node, _ = overdue_node()
    outputs = propose(node, batch_for(node))
    assert own_prevote(outputs, node).value is None
    enforced = [o for o in outputs if isinstance(o, InclusionEnforced)]
    assert len(enforced) == 1 and enforced[0].omitted == 1
    assert node.censorship.inclusion_nil_prevotes == 1


def test_a_proposal_including_the_overdue_chunk_gets_a_prevote() -> None:
    node, held = overdue_node()
    batch = batch_for(node, chunks=(held,))
    assert own_prevote(propose(node, batch), node).value == batch.id


def test_a_chunk_not_yet_overdue_may_wait() -> None:
    node = replica(inclusion_deadline=2, reputation_window=0)
    hold(node, certified((tx("alice", 1),))[1], 0)
    commit(node, batch_for(node))
    batch = batch_for(node)
    assert own_prevote(propose(node, batch), node).value == batch.id


def test_a_full_batch_may_leave_overdue_chunks_out() -> None:
    node, _ = overdue_node()
    node.params = replace(node.params, max_batch_txs=1)
    batch = batch_for(node, chunks=(certified((tx("bob", 7),))[1],))
    assert own_prevote(propose(node, batch), node).value == batch.id


SHARED = (Namespace("rollup-a", 1, 0.5, 1_000), Namespace("rollup-b", 2, 0.5, 1_000))


def test_a_full_batch_owes_an_overdue_chunk_its_namespace_share() -> None:
    """Forced inclusion per namespace: a batch full of rollup-a (a namespace-targeting censor,
    or a flood in arrival order) that leaves out an overdue rollup-b chunk within rollup-b's
    share gets a nil prevote and counts against rollup-b; with the chunk in, a prevote."""
    registry = Registry(SHARED)
    quiet = certified((Tx("rollup-b", "bob", b"q").encoded,), registry=registry)[1]
    flood = [
        certified((Tx("rollup-a", "al", bytes([i])).encoded,), registry=registry)[1]
        for i in range(2)
    ]
    for chunks, prevoted in (((flood[0], flood[1]), False), ((flood[0], quiet), True)):
        node = replica(
            namespaces=SHARED,
            inclusion_deadline=2,
            inclusion_grace_ms=GRACE_MS,
            reputation_window=0,
        )
        node.params = replace(node.params, max_batch_txs=2)  # each namespace is owed 1
        node.lanes.batch_shares = reservations(registry, 2)
        hold(node, quiet, 0)
        for i in range(2):
            commit(node, batch_for(node), now_ms=1000 * (i + 1))
        batch = batch_for(node, chunks=chunks)
        outputs = propose(node, batch)
        assert (own_prevote(outputs, node).value == batch.id) is prevoted
        assert any(isinstance(o, InclusionEnforced) for o in outputs) is not prevoted
        assert node.censorship.ns_omitted == ({} if prevoted else {2: 1})


def test_switched_off_the_rule_only_counts_the_omission() -> None:
    node, _ = overdue_node(forced_inclusion=False)
    batch = batch_for(node)
    outputs = propose(node, batch)
    assert own_prevote(outputs, node).value == batch.id
    assert not any(isinstance(o, InclusionEnforced) for o in outputs)
    assert node.censorship.proposers[batch.header.proposer].overdue_omitted == 1


# ---- leader reputation -----------------------------------------------------------------------


def test_failed_rounds_pass_their_proposer_over_for_the_window() -> None:
    node = replica(reputation_window=3)
    failed = node.validators.proposer_for_round(0)
    commit(node, batch_for(node, round=1), round=1)  # round 0 failed
    # Our own certificate says round 1, but only the next batch's last_commit is agreed on.
    assert node.validators.skipped == frozenset()
    commit(node, batch_for(node))
    assert node.validators.skipped == {failed.public_key}
    assert all(node.validators.proposer_for_round(r) != failed for r in range(8))
    assert node.censorship.proposers[failed.public_key].failed_rounds == 1
    for _ in range(2):
        commit(node, batch_for(node))
    assert node.validators.skipped == frozenset()


def test_failed_rounds_come_from_the_agreed_last_commit_not_our_own_certificate() -> None:
    """Two honest nodes commit one batch with certificates of different rounds (both valid):
    once the next batch is committed they must agree on the proposer schedule."""
    early, late = replica(reputation_window=3), replica(reputation_window=3)
    first = batch_for(early)
    commit(early, first, round=0)
    commit(late, first, round=2)
    second = batch_for(early)  # carries early's certificate: round 0, nothing failed
    commit(early, second)
    commit(late, second)
    assert late.validators.skipped == early.validators.skipped == frozenset()
    assert late.chain.proposer_failures(1) == early.chain.proposer_failures(1) == []


def test_a_batch_whose_last_commit_is_not_a_quorum_for_the_parent_is_refused() -> None:
    node = replica()
    commit(node, batch_for(node))
    good = batch_for(node)
    cert = good.header.last_commit
    assert cert is not None
    for bad in (
        replace(cert, signatures=cert.signatures[:2]),
        replace(cert, round=cert.round + 1),
        None,
    ):
        header = replace(good.header, last_commit=bad)
        assert batch_problem(node.view(), replace(good, header=header)) is not None
    assert batch_problem(node.view(), good) is None


def test_restart_restores_the_skipped_proposers() -> None:
    chain = MemoryChainStore()
    node = replica(chain=chain, reputation_window=5)
    commit(node, batch_for(node, round=2), round=2)
    commit(node, batch_for(node))
    restarted = replica(chain=chain, reputation_window=5)
    assert restarted.validators.skipped == node.validators.skipped
    # Two rounds failed, but skipping both would leave 20 of 40: only the latest is skipped.
    assert len(node.validators.skipped) == 1


def test_skipping_never_leaves_less_than_a_quorum_of_proposers() -> None:
    vs = genesis().validator_set
    keys = [v.public_key for v in vs.active]
    failures = [(10, keys[0]), (11, keys[1]), (12, keys[2])]
    skipped = skipped_proposers(vs, failures, 13, window=10)
    assert skipped == {keys[2]}  # the most recent; a second would leave 20 of 40
    assert skipped_proposers(vs, failures, 12 + 10, window=10) == {keys[2]}
    assert skipped_proposers(vs, failures, 12 + 11, window=10) == frozenset()


def test_skipping_keeps_the_cometbft_order_of_the_others() -> None:
    vs = ValidatorSet(
        Validator(f"v{i}", PrivateKey.from_label(f"order-{i}").public_key, p)
        for i, p in enumerate([5, 3, 2, 1])
    )
    base = [vs.proposer_for_round(r) for r in range(40)]
    skip = base[0].public_key
    view = vs.skipping(frozenset({skip}))
    assert [view.proposer_for_round(r) for r in range(20)] == [
        v for v in base if v.public_key != skip
    ][:20]
    assert view.next_height().priorities() == vs.next_height().priorities()
    assert view.hash == vs.hash


# ---- restart -------------------------------------------------------------------------------


def test_after_a_restart_the_last_signed_vote_is_sent_again() -> None:
    chain, sign_state = MemoryChainStore(), MemorySignStateStore()
    node = Replica(genesis(), KEYS["n2"], chain, sign_state)
    node.start(0)
    batch = batch_for(node)
    propose(node, batch)
    outputs = []
    for key in KEYS.values():
        prevote = sign_vote(key, CHAIN, VoteKind.PREVOTE, 1, 0, batch.id)
        outputs += node.receive(b"peer", prevote, 0)
    precommits = [
        o.message
        for o in outputs
        if isinstance(o, Send)
        and isinstance(o.message, Vote)
        and o.message.kind is VoteKind.PRECOMMIT
    ]
    assert len(precommits) == 1
    # Killed now, before anyone saw that precommit: the restarted node re-sends it, since the
    # guard refuses to sign this height's earlier steps again.
    restarted = Replica(genesis(), KEYS["n2"], chain, sign_state)
    resent = [o.message for o in restarted.start(0) if isinstance(o, Send)]
    assert precommits[0] in resent


def test_repeated_failures_double_the_time_a_proposer_is_passed_over() -> None:
    vs = genesis().validator_set
    key = vs.active[0].public_key
    once = [(20, key)]
    assert skipped_proposers(vs, once, 25, window=5) == {key}
    assert skipped_proposers(vs, once, 26, window=5) == frozenset()
    twice = [(10, key), (20, key)]
    assert skipped_proposers(vs, twice, 30, window=5) == {key}
    assert skipped_proposers(vs, twice, 31, window=5) == frozenset()
    # Failures older than the memory (8 windows) are forgotten.
    assert skipped_proposers(vs, [(1, key), (45, key)], 51, window=5) == frozenset()
    often = [(h, key) for h in (62, 64, 66, 68, 70)]  # 5 << 4 = 80, capped at the memory
    assert skipped_proposers(vs, often, 101, window=5) == {key}
    assert skipped_proposers(vs, often, 111, window=5) == frozenset()


# ---- hostile peers ---------------------------------------------------------------------------


@pytest.mark.parametrize("round", [1_000_000, 2**62])
def test_a_proposal_for_a_huge_round_costs_no_proposer_walk(round: int, monkeypatch) -> None:
    """The proposer of round r takes up to r priority steps: a far-off or forged claim must be
    refused before any of them (counted, not timed)."""
    from sequencer_net import validators as validators_module

    node = replica()
    steps = []
    real_step = validators_module._step
    monkeypatch.setattr(validators_module, "_step", lambda *a: steps.append(1) or real_step(*a))
    batch = batch_for(node)
    stranger = PrivateKey.from_label("stranger")
    for key in (stranger, next(iter(KEYS.values()))):
        header = replace(batch.header, round=round, proposer=key.public_key)
        forged = replace(batch, header=header)
        proposal = sign_proposal(key, CHAIN, forged.height, round, -1, forged.id)
        outputs = node.receive(b"peer", ProposalMessage(proposal, forged), 0)
        assert any(isinstance(o, Rejected) for o in outputs)
        bad = replace(proposal, round=5, signature=bytes(64))
        assert any(
            isinstance(o, Rejected) for o in node.receive(b"peer", ProposalMessage(bad, forged), 0)
        )
    assert len(steps) <= MAX_ROUNDS_AHEAD
    assert len(steps) == 0


def test_a_badly_signed_proposal_is_refused_before_its_batch_id_is_computed() -> None:
    """The batch id encodes the whole header, a certificate of up to MAX_VALIDATORS
    signatures included: a forged signature must not buy that work."""
    node = replica()
    member = next(iter(KEYS.values()))
    header = replace(batch_for(node).header, proposer=member.public_key)
    batch = Batch(header, (), ())
    forged = Proposal(node.height, 0, -1, bytes(32), member.public_key, bytes(64))
    outputs = node.receive(b"peer", ProposalMessage(forged, batch), 0)
    assert [o.reason for o in outputs if isinstance(o, Rejected)] == [
        "proposal with a bad signature"
    ]
    assert "id" not in batch.header.__dict__, "the batch id was computed for a forgery"


def test_an_oversized_batch_is_refused_before_its_certificates_are_checked(monkeypatch) -> None:
    from sequencer_net.replica import validity

    node = replica()
    node.params = replace(node.params, max_batch_txs=1)
    certs = (certified((tx("a", 1),))[1], certified((tx("b", 2),))[1])
    checked = []
    real = validity.certificate_problem
    monkeypatch.setattr(validity, "certificate_problem", lambda *a: checked.append(1) or real(*a))
    outputs = propose(node, batch_for(node, chunks=certs))
    assert "invalid batch: too many transactions" in [
        o.reason for o in outputs if isinstance(o, Rejected)
    ]
    assert checked == []


def test_early_messages_for_the_next_height_are_buffered_only_when_signed_and_bounded() -> None:
    """A proposal carries a batch of up to a frame: a peer must not fill memory with early
    ones, nor with forgeries a validator never signed."""
    node = replica()
    member = KEYS["n1"]
    early = node.height + 1
    for round in range(MAX_BUFFERED_PROPOSALS + 5):
        batch = replace(batch_for(node), header=replace(batch_for(node).header, height=early))
        signed = sign_proposal(member, CHAIN, early, round, -1, batch.id)
        node.receive(b"peer", ProposalMessage(signed, batch), 0)
        node.receive(b"peer", ProposalMessage(replace(signed, signature=bytes(64)), batch), 0)
        node.receive(
            b"peer",
            replace(
                sign_vote(member, CHAIN, VoteKind.PREVOTE, early, round, None), signature=bytes(64)
            ),
            0,
        )
    vote = sign_vote(member, CHAIN, VoteKind.PREVOTE, early, 0, None)
    node.receive(b"peer", vote, 0)
    buffered = [m for _, m in node.inbox._next_height_messages]
    proposals = [m for m in buffered if isinstance(m, ProposalMessage)]
    assert len(proposals) == MAX_BUFFERED_PROPOSALS
    assert all(m.proposal.verify(CHAIN) for m in proposals)
    assert [m for m in buffered if isinstance(m, Vote)] == [vote]


# ---- restart with acknowledged transactions ------------------------------------------------


def chunked_txs(outputs: list[object]) -> set[bytes]:
    """The transactions of the chunks a node sent out of its own lane."""
    return {
        tx
        for o in outputs
        if isinstance(o, Send) and isinstance(o.message, SignedChunk)
        for tx in o.message.chunk.txs
    }


def test_a_restarted_node_readmits_its_acknowledged_txs_only_once_caught_up() -> None:
    """n2 acknowledged a and b, then was killed; its chunk with a got out and the others
    committed it at height 1 while n2 was down. Restarted at height 1, n2 must not chunk a
    again, and chunks b once it has caught up."""
    a, b = tx("alice", 1), tx("bob", 2)
    node = replica("n2")
    node.readmit_when_caught_up([a, b])
    ahead = sign_vote(KEYS["n1"], CHAIN, VoteKind.PREVOTE, 3, 0, None)  # n1 is at height 3
    sent = node.receive(b"peer", ahead, 10) + node.on_timer(CHUNK, 20)
    chunk_a, cert_a = certified((a,), author="n2", signers=("n2", "n3"))
    sent += commit(node, batch_for(node, chunks=(cert_a,)), chunks=(chunk_a,), now_ms=30)
    sent += node.on_timer(CHUNK, 40)
    assert node.catchup.behind and chunked_txs(sent) == set()  # at height 2, n1 at 3
    sent += commit(node, batch_for(node), now_ms=50)  # caught up with n1
    assert not node.catchup.behind
    sent += node.on_timer(CHUNK, 60)
    assert chunked_txs(sent) == {b}
