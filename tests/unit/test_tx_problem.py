"""``tx_problem`` (the hot-path check of a chunk's transactions) gives the codec's verdict on
every input: well-formed, non-canonical, mistyped, truncated or random."""

from __future__ import annotations

import msgpack
from hypothesis import given
from hypothesis import strategies as st

from sequencer_net import codec
from sequencer_net.types import MAX_NAME, Tx, tx_problem

names = st.text(max_size=MAX_NAME + 2)
fields = st.one_of(
    st.integers(-(2**63), 2**64 - 1), st.booleans(), st.none(), names, st.binary(max_size=80)
)


def codec_accepts(data: bytes) -> bool:
    try:
        codec.decode(data, Tx)
    except codec.DecodeError:
        return False
    return True


def agrees(data: bytes) -> None:
    problem = tx_problem(data)
    assert (problem is None) == codec_accepts(data), (data, problem)


@given(st.text(min_size=1, max_size=MAX_NAME), names, st.binary(max_size=300))
def test_every_transaction_is_accepted(namespace: str, sender: str, payload: bytes) -> None:
    if len(sender) <= MAX_NAME:
        assert tx_problem(Tx(namespace, sender, payload).encoded) is None


@given(st.lists(fields, max_size=6))
def test_any_list_gets_the_codecs_verdict(items: list[object]) -> None:
    for head in ([], [1], [True], [2]):
        agrees(msgpack.packb(head + items, use_bin_type=True))


@given(st.binary(max_size=120))
def test_random_bytes_get_the_codecs_verdict(data: bytes) -> None:
    agrees(data)


@given(st.data())
def test_a_mangled_transaction_gets_the_codecs_verdict(data: st.DataObject) -> None:
    encoded = bytearray(Tx("ns", "alice", b"payload").encoded)
    position = data.draw(st.integers(0, len(encoded) - 1))
    encoded[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(encoded)))
    agrees(bytes(encoded[:cut]))
    agrees(bytes(encoded))


def test_non_canonical_encodings_are_refused_with_the_codecs_reason() -> None:
    wide_tag = b"\x94\xcc\x01\xa2ns\xa1a\xc4\x01x"  # tag 1 as a uint8: decodes equal, not minimal
    str8 = b"\x94\x01\xd9\x02ns\xa1a\xc4\x01x"  # a 2-char str behind a str8 header
    for data in (wide_tag, str8):
        assert msgpack.unpackb(data) == [1, "ns", "a", b"x"]
        assert tx_problem(data) == "not the canonical encoding"
    assert tx_problem(b"\x94\x01\xa0\xa1a\xc4\x01x") == "namespace must be 1..64 characters"
