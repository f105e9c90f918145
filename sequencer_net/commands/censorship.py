"""`sequencer-net censorship report`: what the nodes measured about censorship, side by side.

Each node counts, per proposer, the proposals it saw, the rounds that failed and the proposals
that left out a transaction overdue at that node, and measures each transaction's inclusion
delay. It answers with these in its status and writes them to DATA_DIR/censorship.json, so the
report works on a running cluster and on a stopped one alike.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..censorship.metrics import COUNTS, FILENAME, PERCENTILES, MetricsError, checked, read
from ..censorship.suspects import RULE, NodeMetrics, Report
from .arguments import node_arg
from .client import STATUS_TIMEOUT_S
from .errors import UsageError
from .target import NODE_DIRS_HELP, add_dir_option, is_address, select_nodes

if TYPE_CHECKING:  # trio, rich and the client are imported where used: `--help` is fast
    from rich.console import Console
    from rich.table import Table

WIDTH = 88  # help text, wrapped by hand: the examples need the raw formatter

EXAMPLES = f"""\
examples:
  sequencer-net censorship report                      every node of the cluster started last
  sequencer-net censorship report --node n2            one node's view
  sequencer-net censorship report --dir runs/censor-4  a cluster dir (running or stopped)
  sequencer-net censorship report --dir runs/censor-4/n3/data --json

Nodes that answer report live; for a node that does not (stopped, or --dir points at a node
data dir) its {FILENAME}, written about once a second and at shutdown, is read instead.
"""


def add_censorship_commands(commands: argparse._SubParsersAction) -> None:
    """Register `censorship report`."""
    parser = commands.add_parser(
        "censorship",
        help="inclusion delays, per-proposer omissions and suspected censors",
        description="Censorship resistance as the nodes measured it.",
    )
    actions = parser.add_subparsers(dest="censorship_command", metavar="ACTION", required=True)
    p = actions.add_parser(
        "report",
        help="inclusion delay per node, omissions per proposer, suspected censors",
        description=textwrap.fill(
            "Per node: inclusion delay percentiles (submit to commit, in heights and ms), the "
            "nil prevotes it cast under the forced-inclusion rule, and the proposers it "
            "currently skips. Per proposer, as each node saw it: proposals, failed rounds and "
            "proposals that left out an overdue transaction (overdue omitted), with a total "
            "per node. Then the suspected censors.",
            WIDTH,
        )
        + "\n\n"
        + textwrap.fill(RULE, WIDTH)
        + "\n\nExit status: 0 if every node reported, 1 if some did not, 2 if none did.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--node", type=node_arg, help="only this node: a name in the cluster, or HOST:PORT (live)"
    )
    add_dir_option(p, NODE_DIRS_HELP)
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.set_defaults(run=_report)


# ---- where the metrics come from -----------------------------------------------------------


@dataclass(frozen=True)
class Sources:
    """Per node, where to ask: its client address (live) and its metrics file (offline).
    ``chain_id`` guards against another cluster's node now listening on an old port."""

    addresses: dict[str, str]
    files: dict[str, Path]
    chain_id: str | None = None

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys([*self.addresses, *self.files]))


def sources(node: str | None, directory: Path | None) -> Sources:
    """The nodes --node/--dir select (default: every node of the current cluster)."""
    if is_address(node):
        return Sources({node: node}, {})
    selected = select_nodes(node, directory)
    files = {name: data / FILENAME for name, data in selected.data_dirs.items()}
    if selected.genesis is None:
        return Sources({}, files)
    addresses = {name: selected.genesis.addresses[name].client for name in files}
    return Sources(addresses, files, selected.genesis.genesis.chain_id)


def collect(where: Sources, timeout: float = STATUS_TIMEOUT_S) -> list[NodeMetrics]:
    """Ask every node at once; fall back to its file for a node that does not answer. A bad
    document is a usage error naming the node or file."""
    import trio

    from ..cluster import probe

    statuses = trio.run(probe.probe_all, where.addresses, timeout) if where.addresses else {}
    try:
        return _found(where, statuses)
    except MetricsError as exc:
        raise UsageError(str(exc)) from None


def _found(where: Sources, statuses: Mapping[str, dict[str, Any] | None]) -> list[NodeMetrics]:
    found = []
    for name in where.names:
        status = statuses.get(name)
        live = None if status is None else status.get("censorship")
        if status is not None and where.chain_id and status.get("chain_id") != where.chain_id:
            status, live = None, None  # someone else's node on this port
        if live is not None:
            found.append(NodeMetrics(name, "live", checked(live, f"{name} (live)")))
            continue
        path = where.files.get(name)
        if path is not None and path.exists():
            found.append(NodeMetrics(name, str(path), read(path)))
            continue
        if name not in where.addresses:
            reason = f"no {path}"
        elif status is None:
            reason = "not answering" + (f", and no {FILENAME} in its data dir" if path else "")
        else:
            reason = "its status has no censorship metrics (a node older than this command?)"
        found.append(NodeMetrics(name, None, None, reason))
    return found


def missing(nodes: list[NodeMetrics]) -> str:
    """Why these nodes gave no metrics, one line, nodes with the same reason named together."""
    names: dict[str, list[str]] = {}
    for node in nodes:
        if node.metrics is None:
            names.setdefault(str(node.problem), []).append(node.name)
    return "; ".join(f"{', '.join(group)}: {reason}" for reason, group in names.items())


# ---- the report ----------------------------------------------------------------------------


def render(report: Report, console: Console) -> None:
    """Both tables and the verdict."""
    console.print(_node_table(report))
    if len(report.reporting) < len(report.nodes):
        console.print(f"no metrics from {missing(report.nodes)}")
    console.print(_proposer_table(report))
    namespaces = _namespace_table(report)
    if namespaces is not None:
        console.print(namespaces)
    console.print(report.verdict())


def _node_table(report: Report) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(
        title="inclusion delay per node (submit to commit)",
        caption="forced: the forced-inclusion rule, on (deadline in heights) or off; "
        "excluding: proposers the node skips now",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    columns = ("node", "forced", "txs", "heights\np50/p99/max", "ms\np50/p99/max")
    for column in (*columns, "nil\nprevotes", "excluding", "source"):
        table.add_column(column, no_wrap=True)
    for node in report.nodes:
        m = node.metrics
        if m is None:
            table.add_row(node.name, *["-"] * 6, "none")
            continue
        delay = m["inclusion_delay"]
        table.add_row(
            node.name,
            f"on ({m['inclusion_deadline']})" if m["forced_inclusion"] else "off",
            str(delay["count"]),
            _percentiles(delay["heights"]),
            _percentiles(delay["ms"]),
            str(m["inclusion_nil_prevotes"]),
            ", ".join(m["excluded_proposers"]) or "-",
            "live" if node.source == "live" else "file",
        )
    return table


def _proposer_table(report: Report) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(
        title="proposers as each node saw them",
        caption="cells: proposals/failed rounds/overdue omitted",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("proposer")
    for node in report.reporting:
        table.add_column(node.name, justify="right")
    table.add_column("omitting seen by")
    suspects = report.suspects()
    for p in report.proposers():
        cells = [_cell(report.counts(node, p)) for node in report.reporting]
        seen = f"{len(report.omitting_seen_by(p))} of {len(report.observers(p))}"
        table.add_row(p, *cells, f"{seen}{'  suspect' if p in suspects else ''}")
    table.add_section()
    table.add_row("total", *(_cell(report.totals(node)) for node in report.reporting), "")
    return table


def _namespace_table(report: Report) -> Table | None:
    """Per registered namespace, as each node saw it (None without a registry)."""
    from rich import box
    from rich.table import Table

    seen = {
        node.name: node.metrics.get("namespaces", {})
        for node in report.reporting
        if node.metrics is not None
    }
    names = sorted({ns for figures in seen.values() for ns in figures})
    if not names:
        return None
    table = Table(
        title="namespaces as each node saw them (fair shares)",
        caption="cells: transactions included, inclusion delay ms p50/p99/max, "
        "proposals seen leaving out an overdue chunk of it",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for column in ("namespace", "node", "txs", "ms\np50/p99/max", "omitted"):
        table.add_column(column, no_wrap=True)
    for ns in names:
        for node, figures in seen.items():
            if ns in figures:
                f = figures[ns]
                table.add_row(
                    ns, node, str(f["included"]), _percentiles(f["ms"]), str(f["omitted"])
                )
        table.add_section()
    return table


def _cell(counts: Mapping[str, int]) -> str:
    return "/".join(str(counts[key]) for key in COUNTS)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _percentiles(stats: Mapping[str, float | None]) -> str:
    return "/".join(_number(stats[p]) for p in PERCENTILES)


def _report(args: argparse.Namespace) -> int:
    report = Report(collect(sources(args.node, args.dir)))
    if not report.reporting:
        raise UsageError(f"no censorship metrics: {missing(report.nodes)}")
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        from rich.console import Console

        render(report, Console(markup=False))
    return 0 if len(report.reporting) == len(report.nodes) else 1
