"""A cluster run's node logs, read back: DIR/nK/data/node.log (and the files it rotated to,
node.log.1 ...), JSON lines with an ``event`` and an ISO ``timestamp``. A node killed with
SIGKILL may leave a torn last line; such lines are counted and skipped, never fatal."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..censorship import metrics
from ..commands.errors import UsageError
from ..runtime.logs import log_files


@dataclass
class NodeLog:
    name: str
    records: list[dict[str, Any]] = field(default_factory=list)  # each with "t", seconds
    unreadable: int = 0
    censorship: dict[str, Any] | None = None  # data/censorship.json, when readable

    def events(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["event"] == name]


def read_run(directory: Path) -> dict[str, NodeLog]:
    """Every node's log under ``directory``, by node name; a UsageError when there are none."""
    if not directory.is_dir():
        raise UsageError(f"{directory}: not a directory")
    paths = sorted(directory.glob("*/data/node.log"))
    if not paths:
        raise UsageError(f"{directory}: no node logs (expected DIR/NAME/data/node.log)")
    logs = {p.parent.parent.name: _read(p.parent.parent.name, log_files(p.parent)) for p in paths}
    for log in logs.values():
        log.censorship = _censorship(directory / log.name / "data")
    return logs


def _censorship(data_dir: Path) -> dict[str, Any] | None:
    """The node's censorship metrics (written about once a second); None if absent or bad."""
    try:
        return metrics.read(metrics.path(data_dir))
    except metrics.MetricsError:
        return None


def _read(name: str, paths: list[Path]) -> NodeLog:
    log = NodeLog(name)
    lines = []
    for path in paths:
        try:
            lines += path.read_text(errors="replace").splitlines()
        except OSError as exc:
            raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
    for line in lines:
        try:
            record = json.loads(line)
            record["t"] = datetime.fromisoformat(record["timestamp"]).timestamp()
            record["event"] = str(record["event"])
        except (ValueError, KeyError, TypeError):
            log.unreadable += 1
            continue
        log.records.append(record)
    log.records.sort(key=lambda r: r["t"])
    return log
