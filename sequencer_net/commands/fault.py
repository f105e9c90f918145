"""`sequencer-net fault set|clear|list`: switch faults on and off in a running cluster's nodes
through their admin APIs (loopback only, each guarded by its node's admin token)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from ..cluster.errors import ClusterError
from ..faults import ACCEPTED, Fault, FaultSpecError, check_behaviour, parse_fault, unsafe_faults
from .errors import Failure, UsageError
from .target import add_dir_option, check_node, cluster_dir

if TYPE_CHECKING:  # rich, trio and the admin client are imported where used: `--help` is fast
    from ..cluster.admin import AdminTarget
    from ..cluster.control import Cluster

EXAMPLES = f"""\
behaviours: {ACCEPTED}

examples:
  sequencer-net fault set n2 mute                 n2 only listens (and follows the chain)
  sequencer-net fault set n3 drop 0.3             n3 loses 30% of what it sends
  sequencer-net fault set n1 censor sender=alice  n1 omits alice's transactions
  sequencer-net fault clear n2 mute               back to honest (just mute)
  sequencer-net fault clear n2                    every fault of n2 cleared
  sequencer-net fault list                        who is faulty, who is cut off
"""


def add_fault_commands(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "fault",
        help="switch faults (mute, equivocate, drop, ...) on and off in running nodes",
        description="Change a running node's faults through its admin API. Faults set here "
        "last until cleared or until the node restarts; faults from the cluster config "
        "(node.toml `faults`) come back at every start.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="fault_command", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    add_dir_option(common)

    p = actions.add_parser(
        "set",
        parents=[common],
        help="give a node a fault (replacing one of the same behaviour)",
        description=f"Give NODE a fault. Behaviours: {ACCEPTED}.",
    )
    p.add_argument("node", metavar="NODE", help="node name, e.g. n2")
    p.add_argument("behaviour", metavar="BEHAVIOUR", help="e.g. mute, delay, censor")
    p.add_argument("params", nargs="*", metavar="PARAMS", help="e.g. 200 for `delay 200`")
    p.add_argument(
        "--allow-unsafe",
        action="store_true",
        help="accept faulty nodes (any fault) holding a third of the stake or more",
    )
    p.set_defaults(run=_set)

    p = actions.add_parser(
        "clear",
        parents=[common],
        help="clear one fault of a node, or all of them",
        description="Clear BEHAVIOUR on NODE, or every fault of NODE when BEHAVIOUR is left out.",
    )
    p.add_argument("node", metavar="NODE", help="node name, e.g. n2")
    p.add_argument("behaviour", nargs="?", metavar="BEHAVIOUR", help="e.g. mute")
    p.set_defaults(run=_clear)

    p = actions.add_parser(
        "list",
        parents=[common],
        help="every node's active faults and the peers it is cut off from",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.set_defaults(run=_list)


def _cluster(args: argparse.Namespace) -> Cluster:
    from ..cluster.control import Cluster

    root = cluster_dir(args.dir, "no cluster started from here yet; pass --dir")
    try:
        return Cluster(root)
    except ClusterError as exc:
        raise Failure(str(exc)) from None


def _targets(cluster: Cluster) -> dict[str, AdminTarget]:
    from ..cluster.admin import admin_targets
    from ..config import ConfigError

    try:
        return admin_targets(cluster)
    except ClusterError as exc:
        raise Failure(str(exc)) from None
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _resolve(args: argparse.Namespace) -> tuple[Cluster, dict[str, AdminTarget]]:
    """The cluster and its nodes' admin ports, read once, with the named node checked."""
    cluster = _cluster(args)
    targets = _targets(cluster)
    check_node(args.node, targets)
    return cluster, targets


def _send(
    args: argparse.Namespace, targets: dict[str, AdminTarget], method: str, **params: Any
) -> int:
    from ..api_protocol import ApiError
    from ..cluster.admin import call_each

    answer = call_each(targets, {args.node: (method, params)})[args.node]
    if isinstance(answer, ApiError):
        raise Failure(f"{args.node}: {answer}")
    print(f"{args.node}: {_describe(answer)}")
    return 0


def _describe(report: dict[str, list[str]]) -> str:
    faults = ", ".join(report["faults"]) or "no faults"
    cut = report["partitioned_from"]
    return faults + (f"; cut off from {', '.join(cut)}" if cut else "")


def _set(args: argparse.Namespace) -> int:
    try:
        fault = parse_fault(" ".join([args.behaviour, *args.params]))
    except FaultSpecError as exc:
        raise UsageError(str(exc)) from None
    cluster, targets = _resolve(args)
    if not args.allow_unsafe:
        _check_budget(cluster, targets, args.node, fault)
    return _send(args, targets, "fault_set", spec=str(fault))


def _check_budget(
    cluster: Cluster, targets: dict[str, AdminTarget], node: str, fault: Fault
) -> None:
    """The same 1/3 guard as `cluster up` applies to configs: the faults every node runs
    now, plus the new one, must leave faulty stake below a third."""
    from ..api_protocol import ApiError
    from ..cluster.admin import call_each

    answers = call_each(targets, {name: ("fault_list", {}) for name in targets})
    faults: dict[str, list[Fault]] = {}
    for name, answer in answers.items():
        if isinstance(answer, ApiError):
            raise Failure(f"{name}: {answer} (its faults are needed to check the fault budget)")
        faults[name] = [parse_fault(text) for text in answer["faults"]]
    faults[node] = [f for f in faults[node] if f.behaviour != fault.behaviour]
    faults[node].append(fault)
    stakes = {v.name: v.power for v in cluster.genesis.genesis.validators}
    problem = unsafe_faults(stakes, faults)
    if problem:
        raise UsageError(f"{problem}. Pass --allow-unsafe to set it anyway.")


def _clear(args: argparse.Namespace) -> int:
    if args.behaviour is not None:
        try:
            check_behaviour(args.behaviour)
        except FaultSpecError as exc:
            raise UsageError(str(exc)) from None
    _, targets = _resolve(args)
    return _send(args, targets, "fault_clear", behaviour=args.behaviour)


def _list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from ..api_protocol import ApiError
    from ..cluster.admin import call_each

    targets = _targets(_cluster(args))
    answers = call_each(targets, {name: ("fault_list", {}) for name in targets})
    if args.json:
        document = {
            name: {"error": str(a)} if isinstance(a, ApiError) else a for name, a in answers.items()
        }
        print(json.dumps(document, indent=2))
    else:
        table = Table(title="faults")
        for column in ("node", "active faults", "partitioned from"):
            table.add_column(column)
        for name, answer in answers.items():
            if isinstance(answer, ApiError):
                table.add_row(name, f"[red]unreachable[/]: {escape(str(answer))}", "")
            else:
                cut = ", ".join(answer["partitioned_from"]) or "-"
                table.add_row(name, ", ".join(answer["faults"]) or "-", cut)
        Console().print(table)
    return 1 if any(isinstance(a, ApiError) for a in answers.values()) else 0
