"""`sequencer-net cluster ...`: a real cluster of node processes on this machine."""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import signal
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cluster import registry, state
from ..cluster.control import STARTUP_TIMEOUT_S, STOP_TIMEOUT_S, Cluster, node_command
from ..cluster.errors import ClusterError
from ..cluster.partition import partition_cuts
from ..cluster.procs import ProcState
from .errors import Failure, UsageError, find_cause
from .target import add_dir_option, chosen_dir, cluster_dir, given_dir

if TYPE_CHECKING:  # the rest is imported where used, so `cluster --help` starts fast
    from rich.console import Console

    from ..config import ClusterSpec
    from ..faults import Fault

EXAMPLES = """\
examples:
  sequencer-net cluster up configs/local-4.toml   start 4 nodes, watch them; Ctrl-C stops all
  sequencer-net cluster up --nodes 4 --detach     start in the background, print the dir
  sequencer-net cluster status                    the cluster started last (runs/.current)
  sequencer-net cluster list                      every cluster started here, running or not
  sequencer-net cluster kill n2                   crash a node (SIGKILL) ...
  sequencer-net cluster restart n2                ... and bring it back with its data
  sequencer-net cluster pause n3                  freeze a node (SIGSTOP); `resume n3` thaws it
  sequencer-net cluster partition "n1|n2,n3,n4"   cut n1 off from the others ...
  sequencer-net cluster heal                      ... and reconnect everyone
  sequencer-net cluster down                      stop every node (SIGTERM, then SIGKILL)
"""

Run = Callable[[argparse.Namespace], int]
NOT_STARTED = (
    f"no cluster started from here yet ({state.RUNS / '.current'} names none that exists); "
    "pass the cluster dir"
)


def add_cluster_commands(commands: argparse._SubParsersAction) -> None:
    """Register `cluster` and its actions on the `sequencer-net` subcommands."""
    parser = commands.add_parser(
        "cluster",
        help="run a real cluster of node processes on this machine",
        description="Create and run a local cluster: one OS process per validator, listening\n"
        "on 127.0.0.1 only, each node's files under DIR/NAME/. Every action on a cluster\n"
        "takes --dir DIR (status, down and up also a positional DIR) and defaults to the\n"
        "cluster started last from here (runs/.current).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=functools.partial(_print_help, parser))
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    _add_init(actions)
    _add_up(actions)
    _add_status(actions)
    _add_list(actions)
    _add_down(actions)
    _add_node_actions(actions)
    _add_partition(actions)
    _add_heal(actions)


def _print_help(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    parser.print_help()
    return 2


def _user_errors(run: Run) -> Run:
    """Config problems become usage errors (exit 2), cluster problems failures (exit 1)."""

    @functools.wraps(run)
    def wrapped(args: argparse.Namespace) -> int:
        from ..config import ConfigError, SpecError

        try:
            return run(args)
        except (ConfigError, SpecError) as exc:
            raise UsageError(str(exc)) from None
        except ClusterError as exc:
            raise Failure(str(exc)) from None

    return wrapped


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


def _origin(path: Path | None, args: argparse.Namespace) -> str:
    """What `cluster list` shows as a dir's config, and what a second `up` is matched on."""
    if path is not None:
        return str(path.resolve())
    flags = f"--nodes {args.nodes}"
    if args.stake:
        flags += f" --stake {','.join(map(str, args.stake))}"
    if args.chain_id:
        flags += f" --chain-id {args.chain_id}"
    return flags


def _spec(path: Path | None, args: argparse.Namespace) -> ClusterSpec:
    from ..config import ClusterSpec, load_cluster_spec

    if path is not None:
        if args.nodes is not None or args.stake or args.chain_id:
            raise UsageError("give a spec file or --nodes/--stake/--chain-id, not both")
        return load_cluster_spec(path)
    if args.nodes is None:
        raise UsageError("give a spec file (e.g. configs/local-4.toml) or --nodes N")
    return ClusterSpec(
        name=f"local-{args.nodes}",
        nodes=args.nodes,
        stakes=args.stake or (),
        chain_id=args.chain_id or "",
    )


def _init(path: Path | None, args: argparse.Namespace) -> Path:
    from ..cluster.init import fresh_dir, init_cluster

    spec = _spec(path, args)
    stakes = dict(zip(spec.node_names, spec.stakes, strict=True))
    _check_fault_budget(stakes, spec.faults, args.allow_unsafe)
    root = init_cluster(spec, args.dir or fresh_dir(spec.name))
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
    from ..faults import unsafe_faults

    problem = unsafe_faults(stakes, faults)
    if problem and not allow_unsafe:
        raise UsageError(f"{problem}. Pass --allow-unsafe to run it anyway.")


def _root(dir: Path | None) -> Path:
    """A missing cluster is a failure here (exit 1), as every cluster problem is."""
    return cluster_dir(dir, NOT_STARTED, ClusterError)


# ---- init ------------------------------------------------------------------------------------


def _add_init(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser(
        "init",
        help="create a cluster dir: genesis, node configs, fresh keys, free ports",
        description="Create a cluster dir from a spec file or from --nodes: DIR/genesis.toml, "
        "and per node DIR/nK/node.toml, DIR/nK/key (mode 0600) and DIR/nK/data/. Ports are "
        "picked free on 127.0.0.1. Refuses a non-empty DIR.",
    )
    p.add_argument(
        "spec", nargs="?", type=Path, metavar="CONFIG.toml", help="cluster spec, see configs/"
    )
    _add_spec_flags(p)
    p.add_argument(
        "--dir", type=Path, help="where to create it (default runs/NAME, or runs/NAME-2, ...)"
    )
    _add_allow_unsafe(p)
    p.set_defaults(run=_user_errors(_run_init))


def _run_init(args: argparse.Namespace) -> int:
    root = _init(args.spec, args)
    print(root)
    print(f"start it with: sequencer-net cluster up {root}", file=sys.stderr)
    return 0


# ---- up --------------------------------------------------------------------------------------


def _add_up(actions: argparse._SubParsersAction) -> None:
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
        type=int,
        default=0,
        metavar="RATE",
        help="while watching, submit RATE transactions per second spread over the nodes",
    )
    p.add_argument(
        "--duration",
        type=float,
        metavar="SECONDS",
        help="stop the cluster after this many seconds (default: run until Ctrl-C)",
    )
    p.add_argument(
        "--startup-timeout",
        type=float,
        default=STARTUP_TIMEOUT_S,
        metavar="SECONDS",
        help="how long every node may take to answer a status request before the start "
        f"counts as failed and the cluster is stopped (default {STARTUP_TIMEOUT_S:g})",
    )
    _add_allow_unsafe(p)
    p.set_defaults(run=_user_errors(_run_up))


def _up_root(args: argparse.Namespace) -> Path:
    """The dir to start: TARGET or --dir if initialised, else a new one from a spec or flags."""
    target: Path | None = args.target
    flags = args.nodes is not None or args.stake or args.chain_id
    if target is not None and target.is_dir():
        if args.dir is not None or flags:
            raise UsageError(f"{target} is a cluster dir; --dir, --nodes, --stake do not apply")
        return target
    if target is not None and not target.exists() and target.suffix != ".toml":
        raise UsageError(f"{target}: no such cluster dir or spec file")
    if target is None and not flags:
        return _root(args.dir)
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

    from ..config import load_node_config

    if args.load < 0 or (args.duration is not None and args.duration <= 0):
        raise UsageError("--load and --duration must be positive")
    if args.startup_timeout <= 0:
        raise UsageError("--startup-timeout must be positive")
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
    return _foreground(cluster, Console(), args.load, args.duration)


def _wait_ready(cluster: Cluster, timeout: float) -> None:
    """Every node answers, or none is left running: a half-started cluster is no use."""
    import trio

    from ..cluster.startup import wait_ready

    names = ", ".join(cluster.names)
    print(f"waiting for {names} to answer (at most {timeout:g} s) ...", file=sys.stderr)
    try:
        trio.run(wait_ready, cluster, timeout)
    except BaseException:
        with _signals_ignored():
            print("start failed; stopping the cluster ...", file=sys.stderr)
            cluster.down()
        raise
    print(f"all {len(cluster.names)} nodes answer", file=sys.stderr)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """Stopping takes up to 5 s; a second Ctrl-C or a SIGTERM then must not orphan nodes."""
    handlers = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def _foreground(
    cluster: Cluster, console: Console, load_rate: int = 0, duration: float | None = None
) -> int:
    import trio

    from ..api_protocol import ApiError
    from ..cluster.watch import REFRESH_S, watch

    try:
        report = trio.run(watch, cluster, console, REFRESH_S, load_rate, duration)
        if report is not None:
            console.print(
                f"load: {report.submitted} transactions submitted, {report.committed} committed "
                f"({report.committed_tps} tx/s), commit latency p50 {report.latency_p50_ms} ms, "
                f"p99 {report.latency_p99_ms} ms"
            )
    except Exception as exc:  # trio groups a task's error; a node lost under load is one
        cause = find_cause(exc, ApiError)
        if cause is None:
            raise
        raise Failure(f"load stopped: {cause}") from None
    finally:
        with _signals_ignored():
            _stop(cluster, console)
    return 0


def _stop(cluster: Cluster, console: Console) -> None:
    console.print(f"stopping nodes (SIGTERM, SIGKILL after {STOP_TIMEOUT_S:g} s) ...")
    running, killed = cluster.down()
    console.print(f"stopped {', '.join(running) or 'nothing: no node was running'}")
    if killed:
        console.print(f"[yellow]needed SIGKILL: {', '.join(killed)}[/]")


# ---- status, down ----------------------------------------------------------------------------


def _add_status(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser(
        "status",
        help="show every node: pid, alive/paused/dead, height, round, peers, mempool",
        description="Show each node's process state and, for running nodes, what it reports "
        "over its client API. A node that does not answer within 1 s shows '-'.",
    )
    add_dir_option(p, positional=True)
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.set_defaults(run=_user_errors(_run_status))


def _run_status(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ..cluster.status import gather_sync, table

    cluster = Cluster(_root(given_dir(args)))
    rows = gather_sync(cluster)
    if args.json:
        nodes = [row.to_json() for row in rows]
        print(json.dumps({"dir": str(cluster.root), "nodes": nodes}, indent=2))
    else:
        Console().print(table(rows, f"cluster {cluster.root}"))
    dead = [row.name for row in rows if row.state is ProcState.DEAD]
    if dead:
        print(f"dead (should run, but exited or was killed): {', '.join(dead)}", file=sys.stderr)
    return 1 if dead else 0


def _add_list(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser(
        "list",
        help="show the clusters started or created from here, running or stopped",
        description="Show every cluster this working directory knows: each dir under runs/, "
        "and each dir elsewhere that `cluster init` or `cluster up` used from here (kept in "
        "runs/.clusters). Per cluster: its dir, the config it was made from, and how many of "
        "its nodes are alive; * marks the one commands use by default.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.set_defaults(run=_user_errors(_run_list))


def _run_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    rows = [registry.describe(root) for root in registry.known()]
    current = chosen_dir(None)  # the default every command uses
    current = current.absolute() if current else None
    if args.json:
        clusters = [{**row.to_json(), "current": row.dir == current} for row in rows]
        print(json.dumps({"clusters": clusters}, indent=2))
        return 0
    if not rows:
        print("no clusters here yet; start one with `sequencer-net cluster up`", file=sys.stderr)
        return 0
    out = Table(title=f"clusters known in {Path.cwd()}", title_justify="left")
    for column in ("", "dir", "config", "nodes alive", "state"):
        out.add_column(column, overflow="fold")  # a path cut short is no use
    for row in rows:
        out.add_row(
            "*" if row.dir == current else "",
            _near(row.dir),
            _near(Path(row.config))
            if row.config and row.config.endswith(".toml")
            else row.config or "-",
            "-" if row.total is None else f"{row.alive}/{row.total}",
            row.state,
        )
    Console().print(out)
    return 0


def _near(path: Path) -> str:
    """``path`` relative to the working directory when inside it: short enough for a table."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _add_down(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser(
        "down",
        help="stop every node (SIGTERM, SIGKILL after 5 s)",
        description="Stop every node of the cluster: SIGTERM (and SIGCONT, so paused nodes "
        "can act on it), then SIGKILL for any still running after 5 s. Data dirs are kept; "
        "`cluster up DIR` starts the same chain again.",
    )
    add_dir_option(p, positional=True)
    p.set_defaults(run=_user_errors(_run_down))


def _run_down(args: argparse.Namespace) -> int:
    from rich.console import Console

    _stop(Cluster(_root(given_dir(args))), Console())
    return 0


# ---- per-node faults -------------------------------------------------------------------------

NODE_ACTIONS: dict[str, tuple[Callable[[Cluster, str], int], str, str]] = {
    "kill": (Cluster.kill, "crash a node: SIGKILL, no chance to clean up", "killed"),
    "restart": (
        Cluster.restart,
        "kill a node if it runs, then start it again with its config and data",
        "started",
    ),
    "pause": (
        Cluster.pause,
        "freeze a node with SIGSTOP: it keeps its sockets but answers nothing",
        "paused",
    ),
    "resume": (Cluster.resume, "thaw a paused node with SIGCONT", "resumed"),
}


def _add_node_actions(actions: argparse._SubParsersAction) -> None:
    for action, (_, help_text, _) in NODE_ACTIONS.items():
        p = actions.add_parser(
            action, help=help_text, description=help_text[0].upper() + help_text[1:] + "."
        )
        p.add_argument("node", metavar="NODE", help="node name, e.g. n2")
        add_dir_option(p)
        p.set_defaults(run=_user_errors(_run_node_action))


def _run_node_action(args: argparse.Namespace) -> int:
    method, _, done = NODE_ACTIONS[args.action]
    pid = method(Cluster(_root(args.dir)), args.node)
    print(f"{args.node}: {done} (pid {pid})")
    return 0


# ---- partitions ------------------------------------------------------------------------------


def _add_partition(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser(
        "partition",
        help='split the running nodes into groups that cannot hear each other, e.g. "n1|n2,n3"',
        description="Cut the network between groups of nodes: each named node stops sending "
        "to, and ignores everything from, the nodes of the other groups (a message-level "
        "partition; the TCP links stay up). Nodes not named keep all their links, so they "
        "hear both sides; name every node for a clean split. A new partition replaces the "
        "previous one; `cluster heal` ends it. A node restarted meanwhile comes back healed.",
    )
    p.add_argument(
        "groups", metavar="GROUPS", help="groups separated by '|', nodes by ',': n1,n2|n3,n4"
    )
    add_dir_option(p)
    p.set_defaults(run=_user_errors(_run_partition))


def _add_heal(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser(
        "heal",
        help="end a partition: every node hears every other again",
        description="End any partition: every running node talks to every other again.",
    )
    add_dir_option(p)
    p.set_defaults(run=_user_errors(_run_heal))


def _run_partition(args: argparse.Namespace) -> int:
    from ..cluster.admin import admin_targets, call_each

    cluster = Cluster(_root(args.dir))
    cuts = partition_cuts(args.groups, cluster.names)
    calls = {
        name: ("partition", {"peers": cuts[name]}) if name in cuts else ("heal", {})
        for name in cluster.names
    }
    return _report_admin(call_each(admin_targets(cluster), calls))


def _run_heal(args: argparse.Namespace) -> int:
    from ..cluster.admin import admin_targets, call_each

    cluster = Cluster(_root(args.dir))
    return _report_admin(
        call_each(admin_targets(cluster), dict.fromkeys(cluster.names, ("heal", {})))
    )


def _report_admin(answers: dict[str, Any]) -> int:
    """One line per node; exit status 1 when a node could not be reached."""
    from ..api_protocol import ApiError

    for name, answer in answers.items():
        if isinstance(answer, ApiError):
            print(f"{name}: failed: {answer}", file=sys.stderr)
        else:
            cut = answer["partitioned_from"]
            print(f"{name}: {'cut off from ' + ', '.join(cut) if cut else 'connected to all'}")
    return 1 if any(isinstance(a, ApiError) for a in answers.values()) else 0
