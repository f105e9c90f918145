"""DIR/prometheus.yml: a scrape config with every node's metrics endpoint as a target, so
`prometheus --config.file=DIR/prometheus.yml` watches a cluster with no editing.

Written by hand rather than with a YAML library: every value in it is a node name or an
address (an IP or a hostname) that the config loaders already checked, so nothing needs
quoting rules."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

SCRAPE_INTERVAL_S = 5
JOB = "sequencer-net"


def prometheus_config(targets: Mapping[str, str]) -> str:
    """The file's text: one static target per node, labelled with the node's name."""
    lines = [
        "# Prometheus scrape config for the sequencer-net cluster in this dir, written by",
        "# `sequencer-net cluster init`. Run: prometheus --config.file=prometheus.yml",
        "global:",
        f"  scrape_interval: {SCRAPE_INTERVAL_S}s",
        "scrape_configs:",
        f"  - job_name: {JOB}",
        "    metrics_path: /metrics",
        "    static_configs:",
    ]
    for name, address in targets.items():
        lines += [f'      - targets: ["{address}"]', "        labels:", f'          node: "{name}"']
    return "\n".join(lines) + "\n"


def write_prometheus_config(path: Path, targets: Mapping[str, str]) -> None:
    path.write_text(prometheus_config(targets))
