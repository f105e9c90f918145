"""Hostile API requests as hypothesis strategies, plus the requests that once stopped a node;
sent in process by tests/unit/test_api_fuzz.py and over TCP by the integration test."""

from __future__ import annotations

import msgpack
from hypothesis import strategies as st

from sequencer_net.api_protocol import pack
from sequencer_net.types import Tx

CLIENT_METHODS = ["status", "submit", "tx_status", "batch", "namespace_proof", "subscribe_commits"]
ADMIN_METHODS = ["fault_set", "fault_clear", "fault_list", "partition", "heal"]
FIELDS = ["txs", "txid", "height", "with_txs", "namespace", "token", "spec", "behaviour", "peers"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=True)
    | st.text(max_size=40)
    | st.binary(max_size=80)
    | st.sampled_from([2**63, 2**63 - 1, -1, 0, 1, b"\x00" * 32, "mute", "crash 1"])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
valid_tx = st.builds(
    lambda sender, payload: Tx("fuzz", sender, payload).encoded,
    st.text(max_size=8),
    st.binary(max_size=64),
)
params = st.dictionaries(
    st.sampled_from(FIELDS) | st.text(max_size=6),
    values | st.lists(valid_tx | st.binary(max_size=40), max_size=4),
    max_size=4,
)


def hostile_request(methods: list[str]) -> st.SearchStrategy[bytes]:
    envelope = st.fixed_dictionaries(
        {"method": st.sampled_from(methods) | st.text(max_size=10)},
        optional={"id": values, "params": params | values},
    )
    return (
        envelope.map(lambda m: msgpack.packb(m, use_bin_type=True))
        | values.map(lambda v: msgpack.packb(v, use_bin_type=True))
        | st.binary(min_size=1, max_size=60)
    )


STATUS = pack({"id": 0, "method": "status"})
# Requests that once stopped a node or would without the schema, always tried first.
KNOWN_KILLERS = (
    [
        pack({"id": 1, "method": "tx_status", "params": {"txid": value}})
        for value in (2**63, 2**64 - 1, -1, [1, 2], {"a": 1}, "ab", b"\x00" * 31)
    ]
    + [
        pack({"id": 2, "method": "batch", "params": {"height": value}})
        for value in (2**63, -1, 0, "1", [1], None)
    ]
    + [
        pack({"id": 3, "method": "submit", "params": {"txs": value}})
        for value in ("tx", [1, "a", None], {"a": b"x"}, [b"\xff" * 8])
    ]
)


def nested(depth: int, kind: str = "array") -> bytes:
    """msgpack for a value nested ``depth`` levels deep: one-item arrays or maps around nil."""
    level = b"\x91" if kind == "array" else b"\x81\xa1k"
    return level * depth + b"\xc0"


def _request(method: str, params: bytes) -> bytes:
    return b"\x83\xa2id\x07\xa6method" + msgpack.packb(method) + b"\xa6params" + params


DEPTH = 100_000
ADMIN_DEPTH = 20_000  # an admin request is at most 64 KiB
# Requests nested far deeper than any schema: each once escaped validation as a RecursionError.
DEEP_CLIENT_REQUESTS = [
    nested(DEPTH),
    _request("submit", nested(DEPTH)),
    _request("status", nested(DEPTH, "map")),
    _request("submit", b"\x81\xa3txs" + nested(DEPTH)),
    _request("batch", b"\x81\xa6height" + nested(DEPTH, "map")),
]
DEEP_ADMIN_REQUESTS = [
    _request("fault_list", nested(ADMIN_DEPTH)),
    _request("fault_list", b"\x81\xa5token" + nested(ADMIN_DEPTH)),
    _request("heal", b"\x81\xa5other" + nested(ADMIN_DEPTH, "map")),
]
