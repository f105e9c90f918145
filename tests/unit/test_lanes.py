"""The data path inside one node, sans-IO: a lane packs client transactions into a chunk, a
peer acks it once it checks out, acks from more than a third of the stake certify it, a node
fetches what a committed batch orders and it lacks, and a jailing re-certifies what it can."""

from __future__ import annotations

from dataclasses import replace

import pytest
from helpers.chunks import chunk, signed

from sequencer_net import codec
from sequencer_net.chunks import sign_ack
from sequencer_net.crypto import PrivateKey
from sequencer_net.messages import ChunkRequest, ChunkResponse, SignedChunk
from sequencer_net.namespaces import table_of
from sequencer_net.node_params import NodeParams
from sequencer_net.replica import Output, Rejected, Send, SetTimer
from sequencer_net.replica.lanes import Lanes
from sequencer_net.types import Chunk, ChunkAck, ChunkCertificate, Tx, tx_id
from sequencer_net.validators import Validator, ValidatorSet

CHAIN = "lanes"
KEYS = {f"n{i}": PrivateKey.from_label(f"lanes-{i}") for i in range(1, 5)}
SET = ValidatorSet([Validator(n, k.public_key, 10) for n, k in KEYS.items()])


def lanes(name: str = "n1", **params: int) -> tuple[Lanes, list[Output]]:
    outputs: list[Output] = []
    return Lanes(KEYS[name], CHAIN, NodeParams(**params), outputs), outputs  # type: ignore[arg-type]


def tx(n: int) -> bytes:
    return Tx("rollup", "alice", n.to_bytes(4, "big")).encoded


def sent(outputs: list[Output], kind: type) -> list:
    return [o.message for o in outputs if isinstance(o, Send) and isinstance(o.message, kind)]


def own_chunk(node: Lanes, outputs: list[Output], *txs: bytes) -> SignedChunk:
    for encoded in txs:
        node.add_client_tx(encoded, tx_id(encoded))
    node.flush()
    (message,) = sent(outputs, SignedChunk)
    outputs.clear()
    return message


def test_a_client_transaction_waits_at_most_the_chunk_interval_then_leaves_signed() -> None:
    node, outputs = lanes(chunk_interval_ms=7)
    node.add_client_tx(tx(1), tx_id(tx(1)))
    assert [o.delay_ms for o in outputs if isinstance(o, SetTimer)] == [7]
    assert tx_id(tx(1)) in node and not node.is_certified(tx_id(tx(1)))
    node.flush()
    (message,) = sent(outputs, SignedChunk)
    assert message.chunk.txs == (tx(1),) and message.verify(CHAIN)


def test_under_load_the_buffer_waits_for_the_previous_certificate_then_leaves_with_it() -> None:
    node, outputs = lanes(chunk_interval_ms=5, chunk_max_wait_ms=10)
    first = own_chunk(node, outputs, tx(1))
    node.add_client_tx(tx(2), tx_id(tx(2)))
    node.on_timer()  # the first chunk lacks its certificate: wait one more interval
    assert not sent(outputs, SignedChunk)
    assert [o.delay_ms for o in outputs if isinstance(o, SetTimer)] == [5, 5]
    node.add_client_tx(tx(3), tx_id(tx(3)))
    assert node.on_ack(sign_ack(KEYS["n2"], CHAIN, first.chunk, table_of(first.chunk)), SET, 1, 0)
    (second,) = sent(outputs, SignedChunk)
    assert second.chunk.txs == (tx(2), tx(3)), "the certificate released the grown buffer"


def test_with_two_own_chunks_uncommitted_the_buffer_waits_for_a_commit() -> None:
    node, outputs = lanes(chunk_interval_ms=5, chunk_max_wait_ms=50)
    first, second = (own_chunk(node, outputs, tx(i)) for i in (1, 2))
    for message in (first, second):
        assert node.on_ack(
            sign_ack(KEYS["n2"], CHAIN, message.chunk, table_of(message.chunk)), SET, 1, 0
        )
    outputs.clear()
    node.add_client_tx(tx(3), tx_id(tx(3)))
    node.on_timer()  # both certified, neither committed: wait
    assert not sent(outputs, SignedChunk)
    node.committed(1, (first.chunk,))
    (third,) = sent(outputs, SignedChunk)
    assert third.chunk.txs == (tx(3),), "a commit released the waiting buffer"


def test_the_wait_for_a_certificate_is_bounded() -> None:
    node, outputs = lanes(chunk_interval_ms=5, chunk_max_wait_ms=10)
    own_chunk(node, outputs, tx(1))  # never certified: no peer answers
    node.add_client_tx(tx(2), tx_id(tx(2)))
    node.on_timer()
    node.on_timer()
    assert not sent(outputs, SignedChunk)
    node.on_timer()  # 10 ms past the interval: sealed without the certificate
    (second,) = sent(outputs, SignedChunk)
    assert second.chunk.txs == (tx(2),)


def test_with_no_chunk_waiting_for_acks_the_interval_alone_decides() -> None:
    node, outputs = lanes(chunk_interval_ms=5, chunk_max_wait_ms=10)
    node.add_client_tx(tx(1), tx_id(tx(1)))
    node.on_timer()
    (message,) = sent(outputs, SignedChunk)
    assert message.chunk.txs == (tx(1),)


def test_a_full_buffer_leaves_at_once() -> None:
    node, outputs = lanes(chunk_max_txs=3)
    for i in range(3):
        node.add_client_tx(tx(i), tx_id(tx(i)))
    assert [m.chunk.txs for m in sent(outputs, SignedChunk)] == [(tx(0), tx(1), tx(2))]


def test_an_own_chunk_keeps_admissions_ids_which_are_its_transactions_digests() -> None:
    node, outputs = lanes()
    message = own_chunk(node, outputs, tx(1), tx(2), tx(3))
    decoded = codec.decode(codec.encode(message.chunk), Chunk)  # ids computed afresh
    assert message.chunk.tx_ids == decoded.tx_ids == tuple(tx_id(tx(i)) for i in (1, 2, 3))
    with pytest.raises(ValueError, match="one id per transaction"):
        Chunk.packed(KEYS["n1"].public_key, 0, (tx(1), tx(2)), (tx_id(tx(1)),))


def test_acks_from_more_than_a_third_certify_and_the_certificate_goes_to_everyone() -> None:
    author, outputs = lanes("n1")
    message = own_chunk(author, outputs, tx(1))
    peer, peer_out = lanes("n2")
    peer.on_chunk(b"n1", message, SET)
    (ack,) = sent(peer_out, ChunkAck)
    assert ack.verify(CHAIN) and peer.chunks[message.chunk.digest] == message.chunk
    # n1's own ack is 10 of 40: not yet more than a third; n2's makes 20.
    assert author.on_ack(ack, SET, height=3, now_ms=50)
    (cert,) = sent(outputs, ChunkCertificate)
    assert set(cert.signers) == {KEYS["n1"].public_key, KEYS["n2"].public_key}
    assert author.certified[cert.digest].first_seen_height == 3
    assert author.is_certified(tx_id(tx(1)))
    assert not author.on_ack(ack, SET, 3, 50), "an ack counts once"


def test_a_forged_ack_or_one_from_outside_the_set_does_not_count() -> None:
    author, outputs = lanes("n1")
    message = own_chunk(author, outputs, tx(1))
    good = sign_ack(KEYS["n2"], CHAIN, message.chunk, table_of(message.chunk))
    assert not author.on_ack(replace(good, signature=bytes(64)), SET, 1, 0)
    stranger = sign_ack(
        PrivateKey.from_label("stranger"), CHAIN, message.chunk, table_of(message.chunk)
    )
    assert not author.on_ack(stranger, SET, 1, 0)
    assert not sent(outputs, ChunkCertificate)


def test_a_chunk_claiming_another_author_or_holding_junk_is_refused_and_not_acked() -> None:
    peer, outputs = lanes("n2")
    forged = replace(signed(chunk(KEYS["n3"], (tx(1),)), KEYS["n3"], CHAIN), signature=bytes(64))
    peer.on_chunk(b"n4", forged, SET)
    junk = signed(chunk(KEYS["n3"], (tx(1), b"\xc1")), KEYS["n3"], CHAIN)
    peer.on_chunk(b"n3", junk, SET)
    reasons = [o.reason for o in outputs if isinstance(o, Rejected)]
    assert reasons[0] == "chunk with a bad author signature"
    assert reasons[1].startswith("chunk with a malformed transaction")
    assert not sent(outputs, ChunkAck) and not peer.chunks


def test_an_authors_uncommitted_chunks_are_bounded_by_its_share() -> None:
    peer, outputs = lanes("n2", mempool_max_bytes=4 * 40)  # a share of 40 bytes per author
    author = KEYS["n3"]
    for seq in range(10):
        peer.on_chunk(b"n3", signed(chunk(author, (tx(seq),), seq), author, CHAIN), SET)
    held = [c for c in peer.chunks.values() if c.author == author.public_key]
    assert 0 < sum(c.size_bytes for c in held) <= 40
    assert any("share" in o.reason for o in outputs if isinstance(o, Rejected))


def test_a_node_lacking_a_committed_chunk_asks_and_takes_only_what_it_asked_for() -> None:
    node, outputs = lanes("n4")
    holder, holder_out = lanes("n2")
    message = signed(chunk(KEYS["n3"], (tx(9),)), KEYS["n3"], CHAIN)
    holder.on_chunk(b"n3", message, SET)
    digest = message.chunk.digest
    assert node.missing([digest]) == [digest]
    node.fetch([digest])
    (request,) = sent(outputs, ChunkRequest)
    holder.on_request(b"n4", request.digests)
    (response,) = sent(holder_out, ChunkResponse)
    unasked = chunk(KEYS["n3"], (tx(10),), 5)
    assert node.on_response((*response.chunks, unasked))
    assert node.missing([digest]) == [] and unasked.digest not in node.chunks


def test_a_jailing_strips_the_jailed_ack_and_recertifies_our_chunks_that_fall_short() -> None:
    author, outputs = lanes("n1")
    message = own_chunk(author, outputs, tx(1))
    assert author.on_ack(
        sign_ack(KEYS["n2"], CHAIN, message.chunk, table_of(message.chunk)), SET, 1, 0
    )
    (cert,) = sent(outputs, ChunkCertificate)
    outputs.clear()
    jailed = SET.punish([KEYS["n2"].public_key], 0)  # n1's ack alone: 10 of 30
    author.revalidate(jailed)
    assert cert.digest not in author.certified
    assert sent(outputs, SignedChunk) == [message]  # out again, to collect acks anew
    assert author.on_ack(
        sign_ack(KEYS["n3"], CHAIN, message.chunk, table_of(message.chunk)), jailed, 2, 0
    )
    (again,) = sent(outputs, ChunkCertificate)
    assert KEYS["n2"].public_key not in again.signers


def test_commit_releases_the_pending_transactions_and_keeps_the_chunk_to_serve() -> None:
    author, outputs = lanes("n1")
    message = own_chunk(author, outputs, tx(1), tx(2))
    author.committed(1, (message.chunk,))
    assert len(author) == 0 and author.size_bytes == 0
    assert author.was_committed(message.chunk.digest)
    assert message.chunk.digest in author.chunks  # peers that lack it may still fetch it


def test_held_bytes_count_each_pending_transaction_once_and_return_to_zero() -> None:
    node, _ = lanes("n2")
    a = chunk(KEYS["n1"], (tx(1), tx(1), tx(2)), seq=0)  # a repeat inside one chunk
    b = chunk(KEYS["n3"], (tx(2), tx(3)), seq=0)  # and one across chunks
    node.on_chunk(b"n1", signed(a, KEYS["n1"], CHAIN), SET)
    node.on_chunk(b"n3", signed(b, KEYS["n3"], CHAIN), SET)
    assert len(node) == 3
    assert node.size_bytes == sum(len(tx(i)) for i in (1, 2, 3))
    node.committed(1, (a, b))
    assert len(node) == 0 and node.size_bytes == 0
