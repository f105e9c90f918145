"""Fixtures for the tests that start real node processes (all of them are `slow`)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sequencer_net.cluster.control import Cluster
from sequencer_net.config import ClusterSpec


@pytest.fixture
def cluster(start: Callable[[ClusterSpec], Cluster]) -> Cluster:
    """Four nodes on 127.0.0.1, running; `start` stops them at the end."""
    return start(ClusterSpec(name="it", nodes=4))
