"""The metrics endpoint of an in-process node (one validator, so it commits alone): the scrape
parses with prometheus_client's parser and holds every series, other requests get clear HTTP
answers, idle clients and huge headers cannot starve a scrape, and the Grafana dashboard asks
only for series a node exposes."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
import trio.testing
from helpers.metrics import SERIES, get, parse, scrape

from sequencer_net.client import parse_address
from sequencer_net.cluster.init import init_cluster
from sequencer_net.config import ClusterSpec, load_node_config
from sequencer_net.runtime.metrics_http import MAX_CONNECTIONS
from sequencer_net.runtime.node import Node

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "sequencer-net.json"


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    root = init_cluster(ClusterSpec("solo", 1), tmp_path / "c")
    node = Node(load_node_config(root / "n1" / "node.toml"))
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(node.run)
            yield node
            nursery.cancel_scope.cancel()
    finally:
        node.chain.close()


def address(node: Node) -> str:
    assert node.config.metrics_address is not None
    return node.config.metrics_address


async def test_a_scrape_holds_every_series_and_follows_the_chain(node: Node) -> None:
    first = await scrape(address(node))
    assert set(SERIES) <= first.names, set(SERIES) - first.names
    chain = {"chain_id": "solo"}
    height = first.value("sequencer_net_consensus_height", **chain)
    with trio.fail_after(30):
        while node.chain.last_height() < height + 3:
            await trio.sleep(0.05)
    later = await scrape(address(node))
    # The chain goes on while the answer travels: the scrape sits between the two readings.
    assert height + 3 <= later.value("sequencer_net_consensus_height", **chain)
    assert later.value("sequencer_net_consensus_height", **chain) <= node.chain.last_height()
    assert later.value("sequencer_net_consensus_round_duration_seconds_count", **chain) >= 3
    assert later.value("sequencer_net_consensus_validators", **chain) == 1
    assert later.value("sequencer_net_p2p_peers", **chain) == 0


async def test_other_requests_get_plain_http_answers(node: Node) -> None:
    status, body = await get(address(node), "/")
    assert status == 404 and b"/metrics" in body
    assert (await get(address(node), "/metrics", method="POST"))[0] == 405
    status, body = await get(address(node), "/metrics", method="HEAD")
    assert status == 200 and body == b""
    status, body = await get(address(node), "/metrics?x=1")
    assert status == 200 and parse(body.decode()).names
    host, port = parse_address(address(node))
    with trio.fail_after(10):
        async with await trio.open_tcp_stream(host, port) as stream:
            await stream.send_all(b"\x00\x01 not http\r\n\r\n")
            answer = b""
            while chunk := await stream.receive_some(4096):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 400")


async def test_idle_clients_and_a_huge_header_cannot_starve_a_scrape(node: Node) -> None:
    """Seventeen idle connections once filled every slot for their whole timeout, and a 40 KB
    header got its connection reset: a scrape must still get through."""
    host, port = parse_address(address(node))
    with trio.fail_after(30):
        idle = [await trio.open_tcp_stream(host, port) for _ in range(2 * MAX_CONNECTIONS)]
        await trio.testing.wait_all_tasks_blocked()
        try:
            async with await trio.open_tcp_stream(host, port) as big:
                huge = b"X-Big: " + b"a" * 40_000 + b"\r\n"
                await big.send_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + huge + b"\r\n")
                assert (await big.receive_some(4096)).startswith(b"HTTP/1.1 431")
            first = await scrape(address(node))
            assert "sequencer_net_consensus_height" in first.names
        finally:
            for stream in idle:
                await stream.aclose()


async def test_the_dashboard_asks_only_for_series_a_node_exposes(node: Node) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [
        target["expr"]
        for panel in dashboard["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
    ]
    wanted = {name for expr in exprs for name in re.findall(r"sequencer_net_\w+", expr)}
    exposed = (await scrape(address(node))).names
    assert wanted and wanted <= exposed, wanted - exposed
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("height", "commit rate", "latency", "round", "peers", "slash", "censorship"):
        assert topic in titles or topic in json.dumps(dashboard).lower(), topic
