"""The `frontrun` and `leak-shares` faults: their specs parse and print back; the front-runner
reads a plaintext victim once (queueing one transaction of its own), holds it back until its
own commits, never matches an encrypted payload, and composes with `censor`."""

from __future__ import annotations

import pytest
from helpers.private import KEYS, PUBLIC, SHARES, encrypted_txs

from sequencer_net.faults.frontrun import SENDER, TAG, Frontrunner
from sequencer_net.faults.layer import FaultLayer
from sequencer_net.faults.leak import early_shares
from sequencer_net.faults.spec import FaultSpecError, parse_fault
from sequencer_net.messages import sign_chunk
from sequencer_net.replica import Send
from sequencer_net.threshold import envelope
from sequencer_net.threshold.wire import DecryptionShares
from sequencer_net.types import Chunk, Tx


def test_specs_parse_and_print_back() -> None:
    assert str(parse_fault("frontrun 4255593A")) == "frontrun 4255593a"
    assert str(parse_fault("leak-shares")) == "leak-shares"
    with pytest.raises(FaultSpecError, match="PREFIX_HEX must be hex"):
        parse_fault("frontrun BUY")
    with pytest.raises(FaultSpecError, match="takes no parameter"):
        parse_fault("leak-shares now")


def test_a_readable_victim_is_front_run_once_and_held_until_ours_commits() -> None:
    front = Frontrunner(b"BUY:")
    committed: set[bytes] = set()
    front.is_committed = committed.__contains__
    victim = Tx("rollup-a", "alice", b"BUY: 10 ETH").encoded
    other = Tx("rollup-a", "bob", b"SELL: 1 ETH").encoded
    front.observe((victim, other))
    [ours] = front.take_injections()
    mine = Tx("rollup-a", SENDER, TAG + Tx("rollup-a", "alice", b"BUY: 10 ETH").id)
    assert ours == mine.encoded
    assert front.omit(victim) and not front.omit(other) and not front.omit(ours)
    assert front.take_injections() == []  # once per victim
    committed.add(mine.id)
    assert not front.omit(victim)


def test_an_encrypted_victim_is_never_read() -> None:
    front = Frontrunner(b"BUY:")
    payload = envelope.seal(PUBLIC.public_key, "rollup-a", "alice", b"BUY: 10 ETH")
    victim = Tx("rollup-a", "alice", payload).encoded
    front.observe((victim,))
    assert not front.omit(victim) and front.take_injections() == []


def test_the_layer_composes_frontrun_with_censor_and_leaks_own_chunks() -> None:
    layer = FaultLayer(KEYS["n2"], "priv", {KEYS["n1"].public_key: "n1"}, "n2")
    layer.set(parse_fault("frontrun 42"))
    layer.set(parse_fault("censor sender=eve"))
    omit = layer.omit
    assert omit is not None
    assert omit(Tx("rollup-a", "eve", b"x").encoded)
    assert omit(Tx("rollup-a", "al", b"B").encoded)
    layer.clear("frontrun")
    assert layer.frontrunner is None
    layer.set(parse_fault("leak-shares"))
    layer.threshold_share = SHARES[1]
    txs, _ = encrypted_txs(2)
    signed = sign_chunk(KEYS["n2"], "priv", Chunk(KEYS["n2"].public_key, 0, tuple(txs)))
    sends = layer.outgoing(Send(None, signed))
    leaks = [s.message for s in sends if isinstance(s.message, DecryptionShares)]
    assert len(leaks) == 1 and len(leaks[0].sets) == 2
    plain = Chunk(KEYS["n2"].public_key, 1, (Tx("rollup-a", "al", b"plain").encoded,))
    assert early_shares(SHARES[1], KEYS["n2"], "priv", 1, plain) is None
