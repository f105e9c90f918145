"""A node's log: JSON lines in its data dir, one record per event, each carrying the node's
name so the logs of a cluster can be read together."""

from __future__ import annotations

from pathlib import Path

import structlog


def configure_logging(log_path: Path, name: str) -> None:
    """JSON lines, one file per node, every record carrying the node's name."""
    log_file = log_path.open("a", buffering=1)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.WriteLoggerFactory(file=log_file),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(node=name)
