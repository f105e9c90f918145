"""When the launcher killed which node: one JSON line per kill in DIR/kills.jsonl.

A SIGKILLed node writes nothing as it dies, so its own log can only say when it last wrote
(up to a summary interval before). The run report marks a kill at the time recorded here,
and falls back on the node's last log line only for a death the launcher did not cause.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

MAX_KILLS = 10_000  # read at most this many lines: a report stays bounded whatever the file


def record(path: Path, node: str) -> None:
    """Append one kill of ``node`` now (best effort: a kill is not undone by a full disk)."""
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"t": time.time(), "node": node}) + "\n")
    except OSError:
        pass


def read(path: Path) -> dict[str, list[float]]:
    """Kill times per node, in order; lines that do not parse are skipped."""
    kills: dict[str, list[float]] = {}
    try:
        with open(path, encoding="utf-8") as f:
            for _, line in zip(range(MAX_KILLS), f, strict=False):
                try:
                    entry = json.loads(line)
                    t, node = float(entry["t"]), str(entry["node"])
                except (ValueError, TypeError, KeyError):
                    continue
                kills.setdefault(node, []).append(t)
    except OSError:
        return {}
    for times in kills.values():
        times.sort()
    return kills
