"""Hostile requests against a node's client and admin APIs, in process: whatever a request
holds, the node answers it with a result or an error, keeps running, and answers status next.
The same requests go to a real node process in ``test_api_hostile_integration.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgpack
import trio
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from sequencer_net.api_protocol import pack
from sequencer_net.cluster.init import init_cluster
from sequencer_net.config import ClusterSpec, load_node_config
from sequencer_net.runtime.admin import AdminServer
from sequencer_net.runtime.node import Node
from sequencer_net.types import Tx

CLIENT_METHODS = ["status", "submit", "tx_status", "batch", "subscribe_commits"]
ADMIN_METHODS = ["fault_set", "fault_clear", "fault_list", "partition", "heal"]
FIELDS = ["txs", "txid", "height", "with_txs", "token", "spec", "behaviour", "peers"]

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


def node_in(tmp_path: Path) -> Node:
    root = tmp_path / "cluster"
    if not root.exists():
        init_cluster(ClusterSpec(name="fuzz", nodes=1), root)
    return Node(load_node_config(root / "n1" / "node.toml"))


def no_handler_failed(logs: list[dict[str, Any]]) -> None:
    """A request that gets past its schema and then fails in a handler is a gap in the
    schema: the catch-all answered it, but it should have been refused up front."""
    failed = [e for e in logs if e["event"] == "api_request_failed"]
    assert not failed, failed


def check_answer(message: dict[str, Any]) -> None:
    assert set(message) in ({"id", "result"}, {"id", "error"}), message
    msgpack.packb(message, use_bin_type=True)  # it can be sent


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(requests=st.lists(hostile_request(CLIENT_METHODS), min_size=1, max_size=12))
@example(requests=KNOWN_KILLERS)
def test_the_client_api_answers_every_request_and_the_node_stays_up(
    tmp_path: Path, requests: list[bytes]
) -> None:
    async def exercise() -> None:
        node = node_in(tmp_path)
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(node.run)
                for frame in requests:
                    outcome = await node.client_api.rpc.answer(frame)
                    check_answer(outcome.message)
                    if outcome.reply is not None and outcome.reply.events is not None:
                        await outcome.reply.events.aclose()  # type: ignore[attr-defined]
                    status = await node.client_api.rpc.answer(STATUS)
                    assert status.message["result"]["name"] == "n1"
                assert node.exit_code == 0
                nursery.cancel_scope.cancel()
        finally:
            node.chain.close()

    with capture_logs() as logs:
        trio.run(exercise)
    no_handler_failed(logs)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(requests=st.lists(hostile_request(ADMIN_METHODS), min_size=1, max_size=12))
def test_the_admin_api_answers_every_request(tmp_path: Path, requests: list[bytes]) -> None:
    node = node_in(tmp_path)
    node.chain.close()
    config = node.config
    assert config.admin_token is not None
    admin = AdminServer(node.faults, config.admin_token, lambda: None)

    async def exercise() -> None:
        for frame in requests:
            check_answer((await admin.rpc.answer(frame)).message)
            # the same request with the right token, so the methods' own checks are reached
            try:
                request = msgpack.unpackb(frame, raw=False)
            except Exception:
                continue
            if isinstance(request, dict) and isinstance(request.get("params"), dict):
                request["params"]["token"] = config.admin_token
                check_answer((await admin.rpc.answer(pack(request))).message)

    with capture_logs() as logs:
        trio.run(exercise)
    no_handler_failed(logs)
