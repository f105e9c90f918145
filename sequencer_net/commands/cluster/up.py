"""`cluster init` and `cluster up`: create a cluster dir, start its nodes, watch them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ...cluster import registry, state
from ...cluster.control import STARTUP_TIMEOUT_S, Cluster, node_command
from ...cluster.errors import ClusterError
from ...load.plan import MAX_CLIENTS
from ..arguments import MAX_RATE, integer, number
from ..errors import Failure, UsageError, find_cause
from .common import cluster_root, signals_ignored, stop, user_errors
from .hosts import add_host_flags, report_bundles, with_hosts

# The levels node.toml accepts (config.node_file.LOG_LEVELS; not imported, so `--help` is fast).
LOG_LEVELS = ("debug", "info", "warning", "error")

if TYPE_CHECKING:  # the rest is imported where used, so `cluster --help` starts fast
    from rich.console import Console

    from ...config import ClusterSpec
    from ...faults import Fault


def _stakes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of integers"
        ) from None


def _add_spec_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nodes", type=int, metavar="N", help="number of validators, named n1..nN")
    p.add_argument(
        "--stake",
        type=_stakes,
        metavar="S1,S2,...",
        help="comma-separated stakes, one per node, e.g. 10,10,10,5 (default 10 each)",
    )
    p.add_argument("--chain-id", metavar="ID", help="chain id (default: the cluster name, local-N)")
    p.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        help="every node's log_level in node.toml (default: the spec's, else info); debug "
        "adds one `committed` line per height, which `risk calibrate` needs",
    )
    p.add_argument(
        "--private",
        action="store_true",
        help="deal a threshold encryption key for `tx send --encrypt` (as `[private] enabled = "
        "true` in a spec; docs/private.md)",
    )


def _origin(path: Path | None, args: argparse.Namespace) -> str:
    """What `cluster list` shows as a dir's config, and what a second `up` is matched on."""
    if path is not None:
        return str(path.resolve())
    flags = f"--nodes {args.nodes}"
    if getattr(args, "hosts", None):
        flags = f"--hosts {','.join(args.hosts)}"
    if args.stake:
        flags += f" --stake {','.join(map(str, args.stake))}"
    if args.chain_id:
        flags += f" --chain-id {args.chain_id}"
    if args.private:
        flags += " --private"
    return flags


def _spec(path: Path | None, args: argparse.Namespace) -> ClusterSpec:
    import dataclasses

    from ...config import ClusterSpec, load_cluster_spec

    hosts = getattr(args, "hosts", None)  # `init` only
    if path is not None:
        if args.nodes is not None or args.stake or args.chain_id:
            raise UsageError("give a spec file or --nodes/--stake/--chain-id, not both")
        spec = load_cluster_spec(path)
    elif args.nodes is None and hosts:
        spec = ClusterSpec(
            name=f"local-{len(hosts)}", nodes=len(hosts), chain_id=args.chain_id or ""
        )
    elif args.nodes is None:
        raise UsageError("give a spec file (e.g. configs/local-4.toml) or --nodes N")
    else:
        spec = ClusterSpec(
            name=f"local-{args.nodes}",
            nodes=args.nodes,
            stakes=args.stake or (),
            chain_id=args.chain_id or "",
        )
    spec = with_hosts(spec, hosts)
    if args.private:
        spec = dataclasses.replace(spec, private=True)
    return dataclasses.replace(spec, log_level=args.log_level) if args.log_level else spec


def _init(path: Path | None, args: argparse.Namespace) -> Path:
    from ...cluster.init import fresh_dir, init_cluster

    spec = _spec(path, args)
    stakes = dict(zip(spec.node_names, spec.stakes, strict=True))
    _check_fault_budget(stakes, spec.faults, args.allow_unsafe)
    root = init_cluster(spec, args.dir or fresh_dir(spec.name), getattr(args, "deploy", None))
    registry.write_origin(Cluster(root).layout, _origin(path, args))
    registry.remember(root)
    return root


def _add_allow_unsafe(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--allow-unsafe",
        action="store_true",
        help="accept faulty nodes (any fault) holding a third of the stake or more",
    )


def _check_fault_budget(
    stakes: dict[str, int], faults: Mapping[str, Sequence[Fault]], allow_unsafe: bool
) -> None:
    from ...faults import unsafe_faults

    problem = unsafe_faults(stakes, faults)
    if problem and not allow_unsafe:
        raise UsageError(f"{problem}. Pass --allow-unsafe to run it anyway.")


# ---- init ------------------------------------------------------------------------------------


def add_init(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser(
        "init",
        help="create a cluster dir: genesis, node configs, fresh keys, free ports",
        description="Create a cluster dir from a spec file or from --nodes: DIR/genesis.toml, "
        "and per node DIR/nK/node.toml, DIR/nK/key (mode 0600) and DIR/nK/data/. Ports are "
        "picked free on 127.0.0.1 (peer, client, admin and metrics per node). It also writes "
        "DIR/prometheus.yml, a Prometheus scrape config with every node's metrics endpoint. "
        "Each node gets its own admin token, DIR/nK/admin_token (mode 0600). With --hosts "
        "(or `host` per node in the spec) it writes one bundle per host for nodes on "
        "separate machines, and with --deploy the files compose or systemd run them from "
        "(docs/deploy.md). Refuses a non-empty DIR.",
    )
    p.add_argument(
        "spec",
        nargs="?",
        type=Path,
        metavar="CONFIG.toml",
        help="cluster spec, see configs/ (a [network] table emulates a WAN: "
        "configs/wan-7.toml, docs/wan.md)",
    )
    _add_spec_flags(p)
    p.add_argument(
        "--dir", type=Path, help="where to create it (default runs/NAME, or runs/NAME-2, ...)"
    )
    add_host_flags(p)
    _add_allow_unsafe(p)
    p.set_defaults(run=user_errors(_run_init))


def _run_init(args: argparse.Namespace) -> int:
    root = _init(args.spec, args)
    print(root)
    if not report_bundles(root, args.deploy):
        print(f"start it with: sequencer-net cluster up {root}", file=sys.stderr)
    return 0


# ---- up --------------------------------------------------------------------------------------


def add_up(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser(
        "up",
        help="start every node of a cluster (creating it first if needed)",
        description="Start one process per node of an initialised cluster dir, or of a fresh "
        "one created from a spec file or from --nodes (under runs/NAME unless --dir). With "
        "neither, the cluster started last is started again. A config whose cluster still "
        "runs is refused. The start counts only once every node answers a status request; if "
        "one exits or never answers, every node is stopped and the exit status is 1. In the "
        "foreground a live table then shows every node; Ctrl-C stops them all (SIGTERM, "
        "SIGKILL after 5 s). With --detach the nodes keep running and the dir is printed.",
    )
    p.add_argument(
        "target",
        nargs="?",
        type=Path,
        metavar="DIR|CONFIG.toml",
        help="cluster dir or spec file (e.g. configs/local-4.toml)",
    )
    _add_spec_flags(p)
    p.add_argument("--dir", type=Path, help="cluster dir to use, or to create the cluster in")
    p.add_argument(
        "--detach", action="store_true", help="start in the background and print the dir"
    )
    p.add_argument(
        "--load",
        type=integer(0, MAX_RATE),
        default=0,
        metavar="RATE",
        help="while watching, offer RATE transactions per second spread over the nodes, "
        "open loop (see `sequencer-net load --help`)",
    )
    p.add_argument(
        "--load-clients",
        type=integer(1, MAX_CLIENTS),
        default=1,
        metavar="N",
        help="split --load over N client processes (default 1)",
    )
    p.add_argument(
        "--duration",
        type=number(0),
        metavar="SECONDS",
        help="stop the cluster after this many seconds (default: run until Ctrl-C)",
    )
    p.add_argument(
        "--startup-timeout",
        type=number(0),
        default=STARTUP_TIMEOUT_S,
        metavar="SECONDS",
        help="how long every node may take to answer a status request before the start "
        f"counts as failed and the cluster is stopped (default {STARTUP_TIMEOUT_S:g})",
    )
    _add_allow_unsafe(p)
    p.set_defaults(run=user_errors(_run_up))


def _up_root(args: argparse.Namespace) -> Path:
    """The dir to start: TARGET or --dir if initialised, else a new one from a spec or flags."""
    target: Path | None = args.target
    flags = args.nodes is not None or args.stake or args.chain_id
    if target is not None and target.is_dir():
        if args.dir is not None or flags or args.log_level:
            raise UsageError(
                f"{target} is a cluster dir; --dir, --nodes, --stake, --log-level do not apply "
                "(its log level is log_level in each NAME/node.toml)"
            )
        return target
    if target is not None and not target.exists() and target.suffix != ".toml":
        raise UsageError(f"{target}: no such cluster dir or spec file")
    if target is None and not flags:
        if args.log_level:
            raise UsageError(
                "--log-level applies to a new cluster (a spec file or --nodes); an existing "
                "one has log_level in each NAME/node.toml"
            )
        return cluster_root(args.dir)
    _refuse_a_second(_origin(target, args))
    return _init(target, args)


def _refuse_a_second(origin: str) -> None:
    """A second cluster of one config would run unseen beside the first (new dir, new ports)."""
    running = registry.running_from(origin)
    if running:
        other = running[0]
        raise ClusterError(
            f"a cluster of {origin} is already running in {other.dir} ({other.alive} of "
            f"{other.total} nodes up); stop it with `sequencer-net cluster down {other.dir}` "
            "(`cluster list` shows every cluster)"
        )


def _run_up(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ...config import load_node_config

    if args.load < 0 or (args.duration is not None and args.duration <= 0):
        raise UsageError("--load and --duration must be positive")
    if args.startup_timeout <= 0:
        raise UsageError("--startup-timeout must be positive")
    from ...load.plan import MAX_CLIENTS

    if not 1 <= args.load_clients <= MAX_CLIENTS:
        raise UsageError(f"--load-clients must be 1..{MAX_CLIENTS}")
    if args.detach and (args.load or args.duration):
        raise UsageError("--load and --duration watch the cluster; they do not go with --detach")
    cluster = Cluster(_up_root(args), node_command)
    stakes = {v.name: v.power for v in cluster.genesis.genesis.validators}
    faults = {n: load_node_config(cluster.layout.node_config(n)).faults for n in cluster.names}
    _check_fault_budget(stakes, faults, args.allow_unsafe)
    cluster.up()
    state.set_current(cluster.root)
    registry.remember(cluster.root)
    _wait_ready(cluster, args.startup_timeout)
    if args.detach:
        print(cluster.root)
        return 0
    return _foreground(cluster, Console(), args.load, args.duration, args.load_clients)


def _wait_ready(cluster: Cluster, timeout: float) -> None:
    """Every node answers, or none is left running: a half-started cluster is no use."""
    import trio

    from ...cluster.startup import wait_ready

    names = ", ".join(cluster.names)
    print(f"waiting for {names} to answer (at most {timeout:g} s) ...", file=sys.stderr)
    try:
        trio.run(wait_ready, cluster, timeout)
    except BaseException:
        with signals_ignored():
            print("start failed; stopping the cluster ...", file=sys.stderr)
            cluster.down()
        raise
    print(f"all {len(cluster.names)} nodes answer", file=sys.stderr)


def _foreground(
    cluster: Cluster,
    console: Console,
    load_rate: int = 0,
    duration: float | None = None,
    load_clients: int = 1,
) -> int:
    import trio

    from ...api_protocol import ApiError
    from ...cluster.watch import REFRESH_S, watch

    try:
        report = trio.run(watch, cluster, console, REFRESH_S, load_rate, duration, load_clients)
        if report is not None:
            console.print(
                f"load: {report.submitted} transactions submitted ({report.offered_tps} tx/s "
                f"offered, {report.busy} busy answers retried), {report.committed} committed "
                f"({report.committed_tps} tx/s), commit latency p50 {report.latency_p50_ms} ms, "
                f"p99 {report.latency_p99_ms} ms, load generator CPU {report.client_cpu_s} s"
            )
            if report.gone:
                console.print(
                    f"load: stopped answering: {', '.join(report.gone)} ({report.unanswered} "
                    "transactions unanswered); the load went on with the other nodes"
                )
                return 1
    except Exception as exc:  # trio groups a task's error; a node lost under load is one
        cause = find_cause(exc, ApiError)
        if cause is None:
            raise
        raise Failure(f"load stopped: {cause}") from None
    finally:
        with signals_ignored():
            stop(cluster, console)
    return 0
