"""Atomic bundles (issue 12, item 5): a bundle is one bundle chunk, so it commits in one batch,
contiguous and in order, or not at all; a bundle chunk with a transaction already committed
or already placed is left out whole; admission refuses a bundle it could not keep whole; the
acknowledged store re-admits a bundle as a bundle after a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.chunks import committed_batch

from sequencer_net import codec
from sequencer_net.crypto import PrivateKey
from sequencer_net.genesis import Genesis
from sequencer_net.messages import CommittedBatch, SignedChunk
from sequencer_net.namespaces import Namespace
from sequencer_net.replica import Rejected, Send
from sequencer_net.replica.core import Replica
from sequencer_net.sim import Scenario
from sequencer_net.sim.checker import _bundle_problems
from sequencer_net.store.memory import MemoryChainStore, MemorySignStateStore
from sequencer_net.store.sqlite import SqliteChainStore
from sequencer_net.types import MAX_BUNDLE_TXS, Bundle, Chunk, Tx, tx_id
from sequencer_net.validators import Validator

CHAIN = "bundles"
KEYS = [PrivateKey.from_label(f"bundle-{i}") for i in range(4)]
NAMESPACES = (Namespace("rollup-a", 1, 0.5, 1_000), Namespace("rollup-b", 2, 0.5, 1_000))


def tx(namespace: str, n: int) -> bytes:
    return Tx(namespace, "alice", n.to_bytes(8, "big")).encoded


def replica() -> Replica:
    validators = tuple(Validator(f"n{i + 1}", k.public_key, 10) for i, k in enumerate(KEYS))
    genesis = Genesis(CHAIN, validators, namespaces=NAMESPACES)
    return Replica(genesis, KEYS[0], MemoryChainStore(), MemorySignStateStore())


def sent_chunks(outputs: list) -> list[Chunk]:
    return [
        o.message.chunk
        for o in outputs
        if isinstance(o, Send) and isinstance(o.message, SignedChunk)
    ]


def reasons(outputs: list) -> list[str]:
    return [o.reason for o in outputs if isinstance(o, Rejected)]


# ---- the committed order ------------------------------------------------------------------


def author_chunk(txs: list[bytes], seq: int, bundle: bool = False) -> Chunk:
    return Chunk(KEYS[1].public_key, seq, tuple(txs), bundle)


def test_a_bundle_commits_contiguously_in_its_order() -> None:
    bundle = author_chunk([tx("rollup-b", 1), tx("rollup-a", 2)], 1, bundle=True)
    entry = committed_batch(CHAIN, 1, [author_chunk([tx("rollup-a", 9)], 0), bundle])
    assert entry.txs == (tx("rollup-a", 9), tx("rollup-b", 1), tx("rollup-a", 2))


def test_a_bundle_carrying_a_transaction_placed_before_it_is_left_out_whole() -> None:
    first = author_chunk([tx("rollup-a", 1)], 0)
    bundle = author_chunk([tx("rollup-b", 2), tx("rollup-a", 1)], 1, bundle=True)
    entry = committed_batch(CHAIN, 1, [first, bundle])
    assert entry.txs == (tx("rollup-a", 1),)  # not tx 2 alone: that would split the bundle
    # A plain chunk after a bundle only loses its repeats, as before bundles.
    later = author_chunk([tx("rollup-b", 2), tx("rollup-a", 3)], 2)
    entry = committed_batch(CHAIN, 1, [bundle, later])
    assert entry.txs == (tx("rollup-b", 2), tx("rollup-a", 1), tx("rollup-a", 3))


def test_a_bundle_with_a_transaction_an_earlier_height_committed_commits_nothing() -> None:
    bundle = author_chunk([tx("rollup-a", 1), tx("rollup-b", 2)], 0, bundle=True)
    other = author_chunk([tx("rollup-a", 5)], 1)
    entry = committed_batch(CHAIN, 2, [bundle, other])
    earlier = {tx_id(tx("rollup-b", 2))}
    kept = entry.without_repeats(lambda ids: earlier & set(ids))
    assert kept.txs == (tx("rollup-a", 5),)


def test_a_dropped_bundle_lets_a_later_one_with_a_shared_transaction_commit() -> None:
    """The cascade: bundle 1 repeats an earlier height, so it is out; bundle 2, which had lost
    its place to bundle 1 over a shared transaction, now commits whole."""
    shared = tx("rollup-a", 7)
    one = author_chunk([tx("rollup-b", 1), shared], 0, bundle=True)
    two = author_chunk([shared, tx("rollup-b", 3)], 1, bundle=True)
    entry = committed_batch(CHAIN, 2, [one, two])
    assert entry.txs == one.txs
    earlier = {tx_id(tx("rollup-b", 1))}
    kept: CommittedBatch = entry.without_repeats(lambda ids: earlier & set(ids))
    assert kept.txs == two.txs


def test_the_simulator_checker_names_a_split_or_reordered_bundle() -> None:
    a, b, c = tx("rollup-a", 1), tx("rollup-b", 2), tx("rollup-a", 3)
    ids = (tx_id(a), tx_id(b))
    whole = committed_batch(CHAIN, 1, [author_chunk([c, a, b], 0)])
    assert _bundle_problems({1: ("n1", whole)}, [ids]) == []
    split = {
        1: ("n1", committed_batch(CHAIN, 1, [author_chunk([a], 0)])),
        2: ("n1", committed_batch(CHAIN, 2, [author_chunk([b], 1)])),
    }
    reordered = {1: ("n1", committed_batch(CHAIN, 1, [author_chunk([b, a], 0)]))}
    gap = {1: ("n1", committed_batch(CHAIN, 1, [author_chunk([a, c, b], 0)]))}
    partial = {1: ("n1", committed_batch(CHAIN, 1, [author_chunk([a], 0)]))}
    for chain in (split, reordered, gap, partial):
        assert len(_bundle_problems(chain, [ids])) == 1


# ---- admission ----------------------------------------------------------------------------


def test_a_bundle_is_sealed_at_once_as_one_bundle_chunk_and_a_retry_is_acknowledged() -> None:
    node = replica()
    txs = [tx("rollup-b", 1), tx("rollup-a", 2), tx("rollup-b", 3)]
    ids, outputs = node.submit_bundle(txs, 0)
    assert ids == tuple(tx_id(t) for t in txs)
    (chunk,) = sent_chunks(outputs)
    assert chunk.bundle and list(chunk.txs) == txs
    again, outputs = node.submit_bundle(txs, 1)
    assert again == ids and not sent_chunks(outputs) and not reasons(outputs)


@pytest.mark.parametrize(
    ("txs", "reason"),
    [
        ([], "refused: a bundle holds 1.."),
        ([tx("rollup-a", i) for i in range(MAX_BUNDLE_TXS + 1)], "refused: a bundle holds 1.."),
        ([tx("rollup-a", 1), tx("rollup-a", 1)], "refused: a bundle carries a transaction twice"),
        ([tx("rollup-a", 1), tx("rollup-z", 2)], "refused: transaction 1 of the bundle: unknown"),
        ([tx("rollup-a", 1), b"\x01"], "malformed transaction 1 of the bundle"),
    ],
)
def test_a_bundle_that_cannot_be_kept_whole_is_refused_whole(txs: list[bytes], reason: str) -> None:
    node = replica()
    ids, outputs = node.submit_bundle(txs, 0)
    assert ids is None and reasons(outputs)[0].startswith(reason)
    assert len(node.lanes) == 0 and not sent_chunks(outputs)


def test_a_bundle_overlapping_a_pending_transaction_is_refused() -> None:
    node = replica()
    alone = tx("rollup-a", 1)
    assert node.submit(alone, 0)[0] is not None  # buffered, not yet a chunk
    ids, outputs = node.submit_bundle([tx("rollup-b", 2), alone], 0)
    assert ids is None
    assert reasons(outputs) == ["refused: a transaction of the bundle is pending"]
    # ... and a transaction of a pending bundle, sent alone, is the bundle's (acknowledged).
    bundle = [tx("rollup-b", 5), tx("rollup-a", 6)]
    assert node.submit_bundle(bundle, 0)[0] is not None
    txid, outputs = node.submit(bundle[1], 0)
    assert txid == tx_id(bundle[1]) and not sent_chunks(outputs)


def test_a_censor_acknowledges_a_bundle_with_a_censored_transaction_and_drops_it_whole() -> None:
    node = replica()
    node.omit = lambda encoded: encoded == tx("rollup-b", 2)
    ids, outputs = node.submit_bundle([tx("rollup-a", 1), tx("rollup-b", 2)], 0)
    assert ids is not None and not sent_chunks(outputs) and len(node.lanes) == 0


def test_a_peer_bundle_chunk_over_the_bundle_limits_is_refused() -> None:
    with pytest.raises(ValueError, match="a bundle holds"):
        author_chunk([tx("rollup-a", i) for i in range(MAX_BUNDLE_TXS + 1)], 0, bundle=True)


# ---- the acknowledged store ---------------------------------------------------------------


def test_an_acknowledged_bundle_survives_a_restart_as_a_bundle(tmp_path: Path) -> None:
    bundle = Bundle((tx("rollup-a", 1), tx("rollup-b", 2)))
    alone = tx("rollup-a", 3)
    store = SqliteChainStore(tmp_path / "chain.sqlite", CHAIN)
    encoded = codec.encode(bundle)
    store.add_pending([(bundle.tx_ids, encoded), ((tx_id(alone),), alone)])
    assert Bundle.of(encoded) == bundle and Bundle.of(alone) is None
    assert sorted(store.pending()) == sorted([encoded, alone])
    store.close()
    node = replica()
    node.readmit_when_caught_up([encoded, alone])
    node._readmit_if_caught_up()
    held = [c for c in node.lanes.chunks.values() if c.bundle]
    assert [c.txs for c in held] == [bundle.txs]
    assert tx_id(alone) in node.lanes


def test_bundles_in_the_simulator_are_taken_and_committed() -> None:
    """Non-vacuity of the simulator's bundle invariant: bundles are submitted and commit."""
    from sequencer_net.sim import Simulation

    sim = Simulation(Scenario(nodes=4, heights=15, crash=1, drop=0.05), seed=3)
    result = sim.run()
    assert result.ok, result.report.violations
    committed = {txid for row in range(1, 16) for txid in sim.instances[1].chain.get(row).tx_ids}
    whole = [ids for ids in sim.bundles if set(ids) <= committed]
    assert len(whole) >= 3


def test_a_bundle_larger_than_a_batch_is_refused_rather_than_left_waiting() -> None:
    from dataclasses import replace

    node = replica()
    node.params = replace(node.params, max_batch_txs=2)
    ids, outputs = node.submit_bundle([tx("rollup-a", i) for i in range(3)], 0)
    assert ids is None and "larger than a batch" in reasons(outputs)[0]
