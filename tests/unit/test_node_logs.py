"""node.log an operator can keep: the level drops what is below it (per-height lines are
debug), the file rotates by size keeping the configured count, a halted node warns ``stall``,
and a port it cannot bind is named, in the error and in the log."""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
import trio
from structlog.testing import capture_logs

from sequencer_net.cluster.init import init_cluster
from sequencer_net.config import ClusterSpec, LogSettings, load_node_config
from sequencer_net.runtime.logs import LOGGER_NAME, CommitSummary, configure_logging, log_files
from sequencer_net.runtime.node import ListenError, Node

FAST = {"propose_ms": 300, "prevote_ms": 200, "precommit_ms": 200}


@pytest.fixture
def configured() -> Iterator[None]:
    """configure_logging changes process-wide state: put it back after each test."""
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    target = logging.getLogger(LOGGER_NAME)
    for handler in list(target.handlers):
        target.removeHandler(handler)
        handler.close()


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_level_drops_what_is_below_it(tmp_path: Path, configured: None) -> None:
    path = tmp_path / "node.log"
    configure_logging(path, "n1", LogSettings(level="info"))
    log = structlog.get_logger()
    log.debug("committed", height=1)
    log.info("summary", heights=1)
    log.warning("stall", height=2)
    assert [(r["event"], r["level"], r["node"]) for r in records(path)] == [
        ("summary", "info", "n1"),
        ("stall", "warning", "n1"),
    ]
    configure_logging(path, "n1", LogSettings(level="debug"))
    structlog.get_logger().debug("committed", height=3)
    assert records(path)[-1] == {**records(path)[-1], "event": "committed", "height": 3}
    configure_logging(path, "n1", LogSettings(level="error"))
    structlog.get_logger().warning("stall", height=4)
    assert len(records(path)) == 3


def test_node_log_rotates_by_size_and_keeps_the_configured_count(
    tmp_path: Path, configured: None
) -> None:
    path = tmp_path / "node.log"
    configure_logging(path, "n1", LogSettings(level="debug", max_bytes=4096, backups=2))
    log = structlog.get_logger()
    for height in range(1, 501):
        log.debug("committed", height=height, batch_id="ab" * 8)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["node.log", "node.log.1", "node.log.2"]  # node.log.3 was dropped
    files = log_files(tmp_path)
    assert [p.name for p in files] == ["node.log.2", "node.log.1", "node.log"]  # oldest first
    heights = [r["height"] for p in files for r in records(p)]
    assert all(p.stat().st_size <= 4096 for p in files)
    assert heights == list(range(heights[0], 501))  # the newest, in order, none lost between
    assert heights[0] > 1


def test_a_summary_adds_up_the_heights_since_the_last_one() -> None:
    summary = CommitSummary()
    for round, txs in [(0, 5), (2, 0), (0, 7)]:
        summary.add(round, txs)
    fields = summary.take(42, 10.0)
    assert fields == {"height": 42, "heights": 3, "txs": 12, "extra_rounds": 2, "interval_s": 10}
    assert summary.take(42, 10.0)["heights"] == 0  # an idle (or halted) interval says so


def two_node_n1(tmp_path: Path) -> Node:
    """n1 of a two-node cluster of equal stakes: alone it never has a quorum."""
    from sequencer_net.consensus.config import Timeouts

    spec = ClusterSpec("halt", 2, timeouts=dataclasses.replace(Timeouts(), **FAST))
    root = init_cluster(spec, tmp_path / "c")
    return Node(load_node_config(root / "n1" / "node.toml"))


async def test_a_node_that_cannot_commit_warns_stall(tmp_path: Path) -> None:
    node = two_node_n1(tmp_path)
    try:
        with capture_logs() as logs:
            async with trio.open_nursery() as nursery:
                await nursery.start(node.run)
                with trio.fail_after(60):
                    while not any(e["event"] == "stall" for e in logs):
                        await trio.sleep(0.1)
                nursery.cancel_scope.cancel()
    finally:
        node.chain.close()
    [stall] = [e for e in logs if e["event"] == "stall"]
    assert stall["log_level"] == "warning"
    # the last committed height, as status and watch show it, and the one being decided
    assert stall["height"] == 0 and stall["deciding"] == 1
    assert stall["since_ms"] >= node.liveness.stall_after_ms
    assert stall["peers_heard"] == []
    assert not any(e["event"] == "committed" for e in logs)


async def test_a_busy_port_is_named_in_the_error_and_in_the_log(tmp_path: Path) -> None:
    node = two_node_n1(tmp_path)
    endpoint = node.config.metrics_endpoint
    assert endpoint is not None
    try:
        with socket.socket() as blocker, capture_logs() as logs:
            blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            blocker.bind(endpoint)
            blocker.listen()
            with pytest.raises(BaseException) as caught:
                async with trio.open_nursery() as nursery:
                    await nursery.start(node.run)
    finally:
        node.chain.close()
    error = caught.value
    while isinstance(error, BaseExceptionGroup):
        [error] = error.exceptions
    assert isinstance(error, ListenError)
    address = node.config.metrics_address
    assert str(error) == f"the metrics port {address} is already in use"
    [failed] = [e for e in logs if e["event"] == "node_start_failed"]
    assert (failed["role"], failed["address"], failed["log_level"]) == ("metrics", address, "error")
    assert not any(e["event"] == "node_started" for e in logs)


async def test_node_started_lists_every_address_it_listens_on(tmp_path: Path) -> None:
    node = two_node_n1(tmp_path)
    config = node.config
    try:
        with capture_logs() as logs:
            async with trio.open_nursery() as nursery:
                await nursery.start(node.run)
                nursery.cancel_scope.cancel()
    finally:
        node.chain.close()
    [started] = [e for e in logs if e["event"] == "node_started"]
    own = config.addresses["n1"]
    assert started["listening"] == {
        "peer": own.peer,
        "client": own.client,
        "admin": config.admin_address,
        "metrics": config.metrics_address,
    }
    assert started["log_level"] == "info"
