"""A node's log: JSON lines in its data dir, one record per event, each carrying the node's
name so the logs of a cluster can be read together.

An operator must be able to keep it: per-height events (``committed``) are written only at
the debug level, and at info a ``summary`` line every few seconds says what those heights
added up to. The file rotates by size (node.log, node.log.1, ... node.log.N), so an idle node
no longer fills a disk; readers of a run (`risk calibrate`) read the rotated files too.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from ..config import LogSettings

LOGGER_NAME = "sequencer_net.node"
ROTATED = re.compile(r"node\.log(?:\.(\d+))?")


def configure_logging(log_path: Path, name: str, settings: LogSettings | None = None) -> None:
    """JSON lines to ``log_path``, rotated by size, records below ``settings.level`` dropped
    before they are rendered; every record carries the node's name."""
    settings = settings or LogSettings()
    handler = logging.handlers.RotatingFileHandler(
        log_path, maxBytes=settings.max_bytes, backupCount=settings.backups, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(message)s"))
    target = logging.getLogger(LOGGER_NAME)
    for old in list(target.handlers):  # configured again in one process (tests): replace
        target.removeHandler(old)
        old.close()
    target.addHandler(handler)
    target.setLevel(logging.DEBUG)  # structlog filters; the stdlib logger only writes
    target.propagate = False
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[settings.level.upper()]
        ),
        logger_factory=lambda *_: target,
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(node=name)


def log_files(data_dir: Path) -> list[Path]:
    """node.log and its rotated files in data_dir, oldest first."""
    found = []
    for path in data_dir.glob("node.log*"):
        match = ROTATED.fullmatch(path.name)
        if match:
            found.append((-int(match.group(1) or 0), path))
    return [path for _, path in sorted(found)]


@dataclass
class CommitSummary:
    """What the heights committed since the last ``summary`` line added up to."""

    heights: int = 0
    txs: int = 0
    rounds: int = 0  # rounds beyond round 0 those heights needed

    def add(self, round: int, txs: int) -> None:
        self.heights += 1
        self.txs += txs
        self.rounds += round

    def take(self, height: int, interval_s: float) -> dict[str, Any]:
        """The fields of one ``summary`` line (``height``: the node's last commit), and reset."""
        fields = {
            "height": height,
            "heights": self.heights,
            "txs": self.txs,
            "extra_rounds": self.rounds,
            "interval_s": interval_s,
        }
        self.heights = self.txs = self.rounds = 0
        return fields
