"""``tx_namespace``, the check every transaction of every chunk gets, must give the codec's
verdict on any bytes: the namespace of a transaction's canonical encoding, and ValueError for
anything else (another encoding of the same fields, another type, garbage)."""

from __future__ import annotations

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from sequencer_net import codec
from sequencer_net.types import MAX_NAME, Tx, tx_namespace


def codec_verdict(encoded: bytes) -> str | None:
    try:
        tx = codec.decode(encoded, Tx)
    except codec.DecodeError:
        return None
    return tx.namespace if isinstance(tx, Tx) else None


def fast_verdict(encoded: bytes) -> str | None:
    try:
        return tx_namespace(encoded)
    except ValueError:
        return None


names = st.text(max_size=MAX_NAME + 2)
fields = st.one_of(
    st.integers(-2, 300), names, st.binary(max_size=40), st.none(), st.booleans(), st.floats()
)


@settings(max_examples=400)
@given(st.lists(fields, max_size=5))
def test_any_msgpack_list_gets_the_codecs_verdict(items: list[object]) -> None:
    encoded = msgpack.packb(items, use_bin_type=True)
    assert fast_verdict(encoded) == codec_verdict(encoded)


@settings(max_examples=300)
@given(names, names, st.binary(max_size=300), st.sampled_from(["str8", "bin16", "tag", "tail"]))
def test_a_transaction_encoded_otherwise_gets_the_codecs_verdict(
    namespace: str, sender: str, payload: bytes, variant: str
) -> None:
    if not namespace:
        namespace = "n"
    tx = [1, namespace, sender, payload]
    canonical = msgpack.packb(tx, use_bin_type=True)
    assert fast_verdict(canonical) == codec_verdict(canonical)
    if variant == "str8":  # the namespace as str 8 even where a fixstr fits
        raw = namespace.encode()
        body = b"\xd9" + bytes([len(raw)]) + raw if len(raw) < 256 else raw
        other = b"\x94\x01" + body + canonical[2 + len(msgpack.packb(namespace)) :]
    elif variant == "bin16":  # the payload as bin 16 even where bin 8 fits
        head = msgpack.packb([1, namespace, sender], use_bin_type=True)[1:]
        other = b"\x94" + head + b"\xc5" + len(payload).to_bytes(2, "big") + payload
    elif variant == "tag":
        other = msgpack.packb([2, namespace, sender, payload], use_bin_type=True)
    else:
        other = canonical + b"\x00"
    assert fast_verdict(other) == codec_verdict(other)
    assert fast_verdict(other) is None or other == canonical


@given(st.binary(max_size=64))
def test_garbage_gets_the_codecs_verdict(data: bytes) -> None:
    assert fast_verdict(data) == codec_verdict(data)


def test_a_transaction_gives_its_namespace() -> None:
    assert tx_namespace(codec.encode(Tx("rollup-a", "alice", b"x" * 100))) == "rollup-a"
