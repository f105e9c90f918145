"""The lane dump, sans-IO: what `status --consensus` shows of the data path, so a stuck
transaction shows where it is held."""

from __future__ import annotations

import io

from rich.console import Console

from sequencer_net.chunks import sign_ack
from sequencer_net.commands.consensus import render
from sequencer_net.crypto import PrivateKey
from sequencer_net.messages import SignedChunk
from sequencer_net.namespaces import table_of
from sequencer_net.node_params import NodeParams
from sequencer_net.replica import Output, Send
from sequencer_net.replica.lanes import Lanes
from sequencer_net.types import Tx, tx_id
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
