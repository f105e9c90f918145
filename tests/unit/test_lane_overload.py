"""The lane after overload, sans-IO: under load a node often commits a batch before the
author's stream of one of its chunks arrives, fetches it, and then gets it twice (the stream
and the response). Holding it twice leaked the author's share and, after the commit, kept
its transactions pending for good; and the lane dump shows where a stuck transaction is."""

from __future__ import annotations

import io

from helpers.chunks import chunk, signed
from rich.console import Console

from sequencer_net.chunks import sign_ack
from sequencer_net.commands.consensus import render
from sequencer_net.crypto import PrivateKey
from sequencer_net.messages import SignedChunk
from sequencer_net.namespaces import table_of
from sequencer_net.node_params import NodeParams
from sequencer_net.replica import Output, Rejected, Send
from sequencer_net.replica.lanes import Lanes
from sequencer_net.types import Chunk, Tx, tx_id
from sequencer_net.validators import Validator, ValidatorSet

CHAIN = "lane-overload"
KEYS = {f"n{i}": PrivateKey.from_label(f"lane-overload-{i}") for i in range(1, 5)}
SET = ValidatorSet([Validator(n, k.public_key, 10) for n, k in KEYS.items()])
NAMES = {k.public_key: n for n, k in KEYS.items()}


def lanes(name: str, clock: list[int] | None = None, **params: int) -> tuple[Lanes, list[Output]]:
    outputs: list[Output] = []
    now = clock if clock is not None else [0]
    node = Lanes(KEYS[name], CHAIN, NodeParams(**params), outputs, clock=lambda: now[0])  # type: ignore[arg-type]
    return node, outputs


def tx(n: int) -> bytes:
    return Tx("rollup", "alice", n.to_bytes(4, "big")).encoded


def author_chunk(seq: int) -> Chunk:
    return chunk(KEYS["n3"], (tx(2 * seq), tx(2 * seq + 1)), seq)


def refusals(outputs: list[Output]) -> list[str]:
    return [o.reason for o in outputs if isinstance(o, Rejected)]


def test_a_chunk_both_streamed_and_fetched_is_held_once_and_its_share_comes_back() -> None:
    size = author_chunk(0).size_bytes
    # A share of two chunks per author: a leak of one chunk's bytes per round trip would
    # refuse the author's third chunk.
    node, outputs = lanes("n4", mempool_max_bytes=len(SET.active) * 2 * size)
    for seq in range(6):
        c = author_chunk(seq)
        node.fetch([c.digest])  # a batch ordering it committed before the stream came
        node.on_chunk(b"n3", signed(c, KEYS["n3"], CHAIN), SET)  # then the stream
        node.on_response((c,))  # and the answer to the fetch
        node.committed(seq + 1, (c,))
        assert len(node) == 0 and node.size_bytes == 0, f"round {seq}: pending after commit"
        assert refusals(outputs) == [], f"round {seq}: the author's share leaked"
        assert node.dump(0, NAMES)["held_by_author"] == {}
    assert node.dump(0, NAMES)["wanted"] == 0


def test_a_fetch_answered_after_the_commit_leaves_nothing_pending() -> None:
    node, _ = lanes("n4")
    c = author_chunk(0)
    node.fetch([c.digest])
    node.on_chunk(b"n3", signed(c, KEYS["n3"], CHAIN), SET)
    node.committed(1, (c,))
    assert not node.on_response((c,)), "a late answer is not an arrival"
    dump = node.dump(0, NAMES)
    assert len(node) == 0 and dump["pending_txs"] == 0 and dump["held_by_author"] == {}


def test_a_fetched_chunk_that_arrives_only_by_response_is_held_and_counted() -> None:
    node, _ = lanes("n4")
    c = author_chunk(0)
    node.fetch([c.digest])
    assert node.on_response((c,)) and node.fetched == 1
    assert node.dump(0, NAMES)["held_by_author"]["n3"]["txs"] == 2


def test_the_dump_shows_own_chunks_with_ages_and_ackers_and_certified_per_author() -> None:
    clock = [1_000]
    node, outputs = lanes("n1", clock)
    for i in range(3):
        node.add_client_tx(tx(i), tx_id(tx(i)))
    node.flush()
    (first,) = [o.message for o in outputs if isinstance(o, Send)]
    assert isinstance(first, SignedChunk)
    clock[0] = 1_400
    node.add_client_tx(tx(9), tx_id(tx(9)))  # buffered behind the uncertified chunk
    dump = node.dump(1_500, NAMES)
    assert dump["buffered_txs"] == 1 and dump["own_uncertified"] == 1
    assert dump["own_chunks"] == [
        {"seq": 0, "chunk": first.chunk.digest[:4].hex(), "txs": 3, "age_ms": 500}
        | {"certified": False, "acks": ["n1"]}
    ]
    assert dump["pending_held"] == {
        "buffered": 1,
        "in_uncommitted_chunk": 3,
        "in_no_uncommitted_chunk": 0,
    }
    ack = sign_ack(KEYS["n2"], CHAIN, first.chunk, table_of(first.chunk))
    assert node.on_ack(ack, SET, 1, 1_450)
    dump = node.dump(1_500, NAMES)
    assert dump["own_uncertified"] == 0 and dump["own_uncommitted"] == 1
    assert dump["own_chunks"][0]["certified"] is True
    assert dump["held_by_author"]["n1"]["certified_chunks"] == 1
    assert dump["held_by_author"]["n1"]["oldest_certified_age_ms"] == 50


def test_status_consensus_prints_the_lane_in_one_line() -> None:
    lane = {
        "pending_txs": 5,
        "buffered_txs": 1,
        "own_uncommitted": 2,
        "own_uncertified": 1,
        "own_chunks": [{"age_ms": 2500}, {"age_ms": 100}],
        "held_by_author": {"n2": {"chunks": 3, "certified_chunks": 1}},
    }
    state = {"height": 1, "round": 0, "step": "propose", "rounds": []}
    out = io.StringIO()
    page = {"name": "n1", "consensus": state, "lanes": lane}
    Console(file=out, width=200, color_system=None).print(render(page))
    assert (
        "lane: 5 txs pending, 1 buffered; own chunks uncommitted 2 (uncertified 1, oldest "
        "2.5 s); held: n2 3 (1 certified)"
    ) in out.getvalue()


def own(node: Lanes, outputs: list[Output], *ns: int) -> SignedChunk:
    """Seal a chunk of ours holding transactions ``ns``; the message it streams."""
    for n in ns:
        node.add_client_tx(tx(n), tx_id(tx(n)))
    node.flush()
    (message,) = [o.message for o in outputs if isinstance(o, Send)]
    assert isinstance(message, SignedChunk)
    outputs.clear()
    return message


def certify_by_n2(node: Lanes, message: SignedChunk) -> None:
    ack = sign_ack(KEYS["n2"], CHAIN, message.chunk, table_of(message.chunk))
    assert node.on_ack(ack, SET, 1, 0)


def test_one_old_chunk_short_of_acks_does_not_hold_the_lane_back() -> None:
    node, outputs = lanes("n1", chunk_interval_ms=5, chunk_max_wait_ms=50)
    own(node, outputs, 1)  # its acks never come (lost, or a peer refuses it)
    later = own(node, outputs, 2)
    certify_by_n2(node, later)
    node.committed(1, (later.chunk,))
    outputs.clear()
    node.add_client_tx(tx(3), tx_id(tx(3)))
    node.on_timer()  # the interval is over, and our latest chunk is certified and committed
    sealed = [o.message.chunk.txs for o in outputs if isinstance(o, Send)]
    assert sealed == [(tx(3),)], "sealed at the interval, not after chunk_max_wait_ms more"


def test_an_uncertified_chunk_goes_out_again_late_and_ever_less_often() -> None:
    clock = [0]
    node, outputs = lanes("n1", clock, rebroadcast_ms=1_000)
    stuck = own(node, outputs, 1)
    resent_at = []
    for now in range(0, 20_000, 1_000):  # one rebroadcast tick a second
        clock[0] = now
        node.resend_uncertified()
        if [o.message for o in outputs if isinstance(o, Send)] == [stuck]:
            resent_at.append(now)
        outputs.clear()
    assert resent_at == [1_000, 3_000, 7_000, 11_000, 15_000, 19_000]
    certify_by_n2(node, stuck)
    outputs.clear()
    clock[0] = 40_000
    node.resend_uncertified()
    assert outputs == [], "a certified chunk is not sent again"
