"""Hostile requests against a node's client and admin APIs, in process: whatever a request
holds, the node answers it with a result or an error, keeps running, and answers status next.
The same requests go to a real node process in ``test_api_hostile_integration.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgpack
import trio
from helpers.hostile import (
    ADMIN_METHODS,
    CLIENT_METHODS,
    DEEP_ADMIN_REQUESTS,
    DEEP_CLIENT_REQUESTS,
    KNOWN_KILLERS,
    STATUS,
    hostile_request,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from sequencer_net.api_protocol import pack
from sequencer_net.cluster.init import init_cluster
from sequencer_net.config import ClusterSpec, load_node_config
from sequencer_net.runtime.admin import AdminServer
from sequencer_net.runtime.node import Node


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


def test_requests_nested_too_deep_are_refused_by_both_apis(tmp_path: Path) -> None:
    node = node_in(tmp_path)
    node.chain.close()
    assert node.config.admin_token is not None
    admin = AdminServer(node.faults, node.config.admin_token, lambda: None)

    async def exercise() -> None:
        apis = ((node.client_api.rpc, DEEP_CLIENT_REQUESTS), (admin.rpc, DEEP_ADMIN_REQUESTS))
        for rpc, frames in apis:
            for frame in frames:
                outcome = await rpc.answer(frame)
                check_answer(outcome.message)
                assert "error" in outcome.message, frame[:40]

    with capture_logs() as logs:
        trio.run(exercise)
    no_handler_failed(logs)


def test_refused_transactions_cost_one_log_line_per_request(tmp_path: Path) -> None:
    """A submit of many bad transactions once wrote one warning per transaction."""
    txs = [bytes([0xC1]) * (n % 50 + 1) for n in range(2_000)]

    async def exercise() -> None:
        node = node_in(tmp_path)
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(node.run)
                outcome = await node.client_api.rpc.answer(
                    pack({"id": 1, "method": "submit", "params": {"txs": txs}})
                )
                assert all(error for _, error in outcome.message["result"])
                nursery.cancel_scope.cancel()
        finally:
            node.chain.close()

    with capture_logs() as logs:
        trio.run(exercise)
    assert not [e for e in logs if e["event"] == "rejected"]
    [summary] = [e for e in logs if e["event"] == "submit_refused"]
    assert summary["refused"] == len(txs) and list(summary["reasons"]) == ["malformed transaction"]
