"""`sequencer-net node`: run one sequencer process from its node.toml."""

from __future__ import annotations

import argparse
from pathlib import Path

from .errors import UsageError, find_cause


def add_node_command(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "node",
        help="run one sequencer node (the cluster tool starts these for you)",
        description="Run one validator: peer links, consensus, storage and the client API, "
        "until SIGTERM or Ctrl-C. Logs go to DATA_DIR/node.log as JSON lines, at node.toml's "
        "log_level (per-height lines are debug; info has a summary every 10 s), rotated by "
        "size (log_max_bytes, log_backups). With metrics_address in node.toml it serves "
        "Prometheus metrics at http://ADDRESS/metrics. It binds the peer and client "
        "addresses genesis advertises for it, or peer_listen and client_listen in node.toml "
        "(0.0.0.0:PORT for every interface); admin_address must be on loopback. A port it "
        "cannot bind is named in the error and in node.log (exit status 2). To run nodes on "
        "separate hosts see `cluster init --hosts` and docs/deploy.md.",
    )
    p.add_argument("--config", required=True, type=Path, help="the node's node.toml")
    p.set_defaults(run=_run_node)


def _run_node(args: argparse.Namespace) -> int:
    # The whole node (trio, structlog, sqlite) loads only here, not for every command.
    import structlog
    import trio

    from ..config import ConfigError, load_node_config
    from ..evidence_log import EvidenceLogError
    from ..runtime.logs import configure_logging
    from ..runtime.node import ListenError, serve
    from ..store.errors import StoreError

    try:
        config = load_node_config(args.config)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    config.data_dir.mkdir(parents=True, exist_ok=True)
    configure_logging(config.data_dir / "node.log", config.name, config.log)
    try:
        status = trio.run(serve, config)
    except Exception as exc:  # trio wraps task failures in exception groups
        listen = find_cause(exc, ListenError)
        if listen is not None:  # the node logged it, with the port
            raise UsageError(f"{config.name}: {listen}") from None
        for kind in (StoreError, EvidenceLogError):
            cause = find_cause(exc, kind)
            if cause is not None:
                structlog.get_logger().error("node_start_failed", reason=str(cause))
                raise UsageError(f"{config.name}: {cause}") from None
        raise
    return status
