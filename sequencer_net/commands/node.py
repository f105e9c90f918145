"""`sequencer-net node`: run one sequencer process from its node.toml."""

from __future__ import annotations

import argparse
import errno
from pathlib import Path

from .errors import UsageError, find_cause


def add_node_command(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "node",
        help="run one sequencer node (the cluster tool starts these for you)",
        description="Run one validator: peer links, consensus, storage and the client API, "
        "until SIGTERM or Ctrl-C. Logs go to DATA_DIR/node.log as JSON lines.",
    )
    p.add_argument("--config", required=True, type=Path, help="the node's node.toml")
    p.set_defaults(run=_run_node)


def _run_node(args: argparse.Namespace) -> int:
    # The whole node (trio, structlog, sqlite) loads only here, not for every command.
    import trio

    from ..config import ConfigError, load_node_config
    from ..evidence_log import EvidenceLogError
    from ..runtime.logs import configure_logging
    from ..runtime.node import serve
    from ..store.errors import StoreError

    try:
        config = load_node_config(args.config)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    config.data_dir.mkdir(parents=True, exist_ok=True)
    configure_logging(config.data_dir / "node.log", config.name)
    try:
        status = trio.run(serve, config)
    except Exception as exc:  # trio wraps task failures in exception groups
        for kind in (StoreError, EvidenceLogError):
            cause = find_cause(exc, kind)
            if cause is not None:
                raise UsageError(f"{config.name}: {cause}") from None
        os_error = find_cause(exc, OSError)
        if os_error is not None and os_error.errno == errno.EADDRINUSE:
            raise UsageError(
                f"{config.name}: a port it needs is already in use ({os_error.strerror})"
            ) from None
        raise
    return status
