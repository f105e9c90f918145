"""A decided batch whose chunk has not arrived yet, sans-IO: under load the votes outrun the
author's stream, the node asks its peers for the chunk, and then the stream brings it. The
commit happens then, not at the next fetch retry, and the fetch's late answer changes
nothing."""

from __future__ import annotations

from sequencer_net.chunks import certify, sign_ack
from sequencer_net.crypto import PrivateKey
from sequencer_net.genesis import Genesis
from sequencer_net.messages import (
    ChunkRequest,
    ChunkResponse,
    ProposalMessage,
    sign_chunk,
)
from sequencer_net.namespaces import batch_root, table_of
from sequencer_net.replica import FETCH, GENESIS_PARENT, Committed, Replica, Send, SetTimer
from sequencer_net.store.memory import MemoryChainStore, MemorySignStateStore
from sequencer_net.types import (
    Batch,
    BatchHeader,
    Chunk,
    CommitSig,
    Tx,
    VoteKind,
    chunks_digest,
    evidence_digest,
    sign_proposal,
    sign_vote,
)
from sequencer_net.validators import Validator

CHAIN = "fetch"
KEYS = {f"n{i}": PrivateKey.from_label(f"fetch-{i}") for i in range(1, 5)}
BY_KEY = {k.public_key: k for k in KEYS.values()}


def decided_without_its_chunk() -> tuple[Replica, Chunk, list[object]]:
    """n2 gets a proposal ordering n1's certified chunk and a quorum of precommits for it,
    but not the chunk itself."""
    validators = tuple(Validator(name, key.public_key, 10) for name, key in KEYS.items())
    node = Replica(
        Genesis(CHAIN, validators), KEYS["n2"], MemoryChainStore(), MemorySignStateStore()
    )
    node.start(0)
    chunk = Chunk(KEYS["n1"].public_key, 0, (Tx("rollup", "alice", b"1").encoded,))
    acks = [sign_ack(KEYS[n], CHAIN, chunk, table_of(chunk)) for n in ("n1", "n3")]
    sigs = tuple(
        sorted((CommitSig(a.validator, a.signature) for a in acks), key=lambda c: c.validator)
    )
    cert = certify(acks[0], sigs, table_of(chunk))
    proposer = node.validators.proposer_for_round(0)
    header = BatchHeader(
        chain_id=CHAIN,
        height=1,
        round=0,
        parent_id=GENESIS_PARENT,
        proposer=proposer.public_key,
        timestamp_ms=1000,
        chunks_digest=chunks_digest((cert,)),
        evidence_digest=evidence_digest(()),
        validator_set_hash=node.validators.hash,
        last_commit=None,
        namespaces_root=batch_root((cert,)),
    )
    batch = Batch(header, (cert,), ())
    proposal = sign_proposal(BY_KEY[proposer.public_key], CHAIN, 1, 0, -1, batch.id)
    outputs = list(node.receive(b"peer", ProposalMessage(proposal, batch), 1001))
    for name in ("n1", "n3", "n4"):
        vote = sign_vote(KEYS[name], CHAIN, VoteKind.PRECOMMIT, 1, 0, batch.id)
        outputs += node.receive(KEYS[name].public_key, vote, 1002)
    return node, chunk, outputs


def committed(outputs: list[object]) -> list[int]:
    return [o.entry.height for o in outputs if isinstance(o, Committed)]


def test_the_stream_bringing_the_last_missing_chunk_commits_at_once() -> None:
    node, chunk, outputs = decided_without_its_chunk()
    asked = [o for o in outputs if isinstance(o, Send) and isinstance(o.message, ChunkRequest)]
    assert [o.message.digests for o in asked] == [(chunk.digest,)]
    assert any(isinstance(o, SetTimer) and o.key == FETCH for o in outputs)
    assert committed(outputs) == [] and node.chain.last_height() == 0

    streamed = node.receive(KEYS["n1"].public_key, sign_chunk(KEYS["n1"], CHAIN, chunk), 1010)
    assert committed(streamed) == [1], "committed when the stream came, not at a fetch retry"
    assert node.chain.last_height() == 1 and len(node.lanes) == 0

    late = node.receive(KEYS["n3"].public_key, ChunkResponse((chunk,)), 1020)
    assert committed(late) == [] and len(node.lanes) == 0
    assert node.lanes.books_problem() is None


def test_a_chunk_streamed_while_nothing_waits_commits_nothing() -> None:
    validators = tuple(Validator(name, key.public_key, 10) for name, key in KEYS.items())
    node = Replica(
        Genesis(CHAIN, validators), KEYS["n2"], MemoryChainStore(), MemorySignStateStore()
    )
    node.start(0)
    chunk = Chunk(KEYS["n1"].public_key, 0, (Tx("rollup", "alice", b"1").encoded,))
    outputs = node.receive(KEYS["n1"].public_key, sign_chunk(KEYS["n1"], CHAIN, chunk), 10)
    assert committed(outputs) == [] and len(node.lanes) == 1
