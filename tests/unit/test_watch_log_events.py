"""watch's event lines from the node logs: the `stall` warning (h-metrics' name for it) shows,
and a log that rotated under the view is read again from its start."""

from __future__ import annotations

import json
from pathlib import Path

from sequencer_net.cluster.control import Cluster
from sequencer_net.cluster.init import init_cluster
from sequencer_net.cluster.monitor import Monitor
from sequencer_net.config import ClusterSpec


def _line(event: str, **fields: object) -> str:
    return json.dumps({"event": event, "timestamp": "2026-01-01T00:00:00Z", **fields}) + "\n"


def test_stall_lines_show_and_a_rotated_log_is_read_from_its_start(tmp_path: Path) -> None:
    cluster = Cluster(init_cluster(ClusterSpec("w", 1), tmp_path / "c"))
    log = cluster.layout.data("n1") / "node.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    monitor = Monitor(cluster)
    log.write_text(_line("committed", height=1) * 50 + _line("stall", height=7, since_ms=3000))
    monitor._read_log("n1")
    assert [text for _, text in monitor.events] == [
        "00:00:00 n1: stall: no commit for 3000 ms since committed height 7"
    ]
    log.rename(log.with_name("node.log.1"))  # rotation: a new, shorter node.log
    log.write_text(_line("stall", height=9, since_ms=4000))
    monitor._read_log("n1")
    assert [text for _, text in monitor.events][-1] == (
        "00:00:00 n1: stall: no commit for 4000 ms since committed height 9"
    )
