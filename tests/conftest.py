"""Fixtures shared by the tests that start real node processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from helpers.cluster import stop_checked

from sequencer_net.cluster.control import Cluster
from sequencer_net.cluster.init import init_cluster
from sequencer_net.config import ClusterSpec
from sequencer_net.node_params import NodeParams

# An idle test cluster commits an empty batch every 200 ms instead of every second, so a test
# that waits for a few heights waits less; tests assert conditions, never timings, and a test
# about idling sets its own interval.
IDLE_HEIGHT_MS = 200


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[[ClusterSpec], Cluster]]:
    """Start clusters from specs; every one is stopped (and checked stopped) at the end,
    paused nodes included."""
    started: list[Cluster] = []

    def start(spec: ClusterSpec) -> Cluster:
        default = NodeParams().empty_batch_interval_ms
        if spec.params.empty_batch_interval_ms == default:
            spec = replace(
                spec, params=replace(spec.params, empty_batch_interval_ms=IDLE_HEIGHT_MS)
            )
        cluster = Cluster(init_cluster(spec, tmp_path / spec.name))
        started.append(cluster)
        cluster.up()
        return cluster

    yield start
    for cluster in started:
        stop_checked(cluster)


INTEGRATION = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests under tests/integration start real node processes, so they are `slow` (as are
    the ones marked so by hand): `pytest -m "not slow"` is a quick loop while developing;
    plain `pytest` runs them all."""
    for item in items:
        if item.path.is_relative_to(INTEGRATION):
            item.add_marker(pytest.mark.slow)
