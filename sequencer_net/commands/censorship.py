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

from .client import STATUS_TIMEOUT_S
from .errors import UsageError
from .selection import select_nodes
from .target import NODE_DIRS_HELP, add_dir_option, is_address

if TYPE_CHECKING:  # trio, rich and the client are imported where used: `--help` is fast
    from rich.console import Console
    from rich.table import Table

FILENAME = "censorship.json"
COUNTS = ("proposals", "failed_rounds", "overdue_omitted")
PERCENTILES = ("p50", "p99", "max")
WIDTH = 88  # help text, wrapped by hand: the examples need the raw formatter

RULE = (
    "A proposer is a suspected censor when more than half of the other reporting nodes each "
    "count at least one overdue omission against it: a proposal of its that left out, although "
    "the batch had room, a transaction the node had held for inclusion_deadline heights and "
    "since inclusion_grace_ms before the batch was built. A proposer's own view never counts for "
    "or against it (it never accuses itself, so counting it would only raise the bar). One "
    "node's count alone may come from slow gossip; a majority of independent observers does not."
)

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
    p.add_argument("--node", help="only this node: a name in the cluster, or HOST:PORT (live)")
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


@dataclass(frozen=True)
class NodeMetrics:
    """One node's censorship metrics and where they came from, or why there are none."""

    name: str
    source: str | None  # "live" or the file read
    metrics: dict[str, Any] | None
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.metrics is None:
            return {"source": None, "error": self.problem}
        return {"source": self.source, "censorship": self.metrics}


def collect(where: Sources, timeout: float = STATUS_TIMEOUT_S) -> list[NodeMetrics]:
    """Ask every node at once; fall back to its file for a node that does not answer."""
    import trio

    from ..cluster import probe

    statuses = trio.run(probe.probe_all, where.addresses, timeout) if where.addresses else {}
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
            found.append(NodeMetrics(name, str(path), read_metrics(path)))
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


def read_metrics(path: Path) -> dict[str, Any]:
    """A node's censorship.json, checked."""
    try:
        document = json.loads(path.read_text())
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc})") from None
    return checked(document, str(path))


# ---- checking the schema -------------------------------------------------------------------


def checked(value: object, where: str) -> dict[str, Any]:
    """The metrics dict if it has the documented shape; a bad file is one clear error, not a
    KeyError halfway through a table."""
    problem = _problem(value)
    if problem:
        raise UsageError(f"{where}: malformed censorship metrics: {problem}")
    assert isinstance(value, dict)
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return value is None or _is_int(value) or isinstance(value, float)


def _problem(value: object) -> str | None:
    if not isinstance(value, dict):
        return "expected an object"
    if not isinstance(value.get("forced_inclusion"), bool):
        return "forced_inclusion must be true or false"
    for key in ("inclusion_deadline", "inclusion_nil_prevotes"):
        if not _is_int(value.get(key)):
            return f"{key} must be an integer"
    delay = value.get("inclusion_delay")
    if not isinstance(delay, dict) or not _is_int(delay.get("count")):
        return "inclusion_delay must be an object with an integer count"
    for unit in ("heights", "ms"):
        stats = delay.get(unit)
        if not isinstance(stats, dict) or not all(
            p in stats and _is_number(stats[p]) for p in PERCENTILES
        ):
            return f"inclusion_delay.{unit} must hold p50, p99 and max (numbers, or null)"
    proposers = value.get("proposers")
    if not isinstance(proposers, dict):
        return "proposers must be an object"
    for name, counts in proposers.items():
        if not isinstance(counts, dict) or not all(_is_int(counts.get(k)) for k in COUNTS):
            return f"proposers.{name} must hold integers {', '.join(COUNTS)}"
    excluded = value.get("excluded_proposers")
    if not isinstance(excluded, list) or not all(isinstance(n, str) for n in excluded):
        return "excluded_proposers must be a list of names"
    return None


# ---- the report ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """Every node's view side by side, and the verdict the majority rule gives."""

    nodes: list[NodeMetrics]

    @property
    def reporting(self) -> list[NodeMetrics]:
        return [node for node in self.nodes if node.metrics is not None]

    def proposers(self) -> list[str]:
        """Every proposer any node counted, in the order the nodes list them."""
        names: dict[str, None] = {}
        for node in self.reporting:
            assert node.metrics is not None
            names.update(dict.fromkeys(node.metrics["proposers"]))
        return list(names)

    def counts(self, node: NodeMetrics, proposer: str) -> dict[str, int]:
        assert node.metrics is not None
        seen = node.metrics["proposers"].get(proposer, {})
        return {key: seen.get(key, 0) for key in COUNTS}

    def observers(self, proposer: str) -> list[NodeMetrics]:
        """The reporting nodes other than ``proposer`` itself: the only views that count."""
        return [node for node in self.reporting if node.name != proposer]

    def omitting_seen_by(self, proposer: str) -> list[str]:
        return [
            node.name
            for node in self.observers(proposer)
            if self.counts(node, proposer)["overdue_omitted"] > 0
        ]

    def suspects(self) -> list[str]:
        """Proposers a strict majority of the other reporting nodes saw omit overdue
        transactions."""
        return [
            p
            for p in self.proposers()
            if 2 * len(self.omitting_seen_by(p)) > len(self.observers(p))
        ]

    def totals(self, node: NodeMetrics) -> dict[str, int]:
        return {key: sum(self.counts(node, p)[key] for p in self.proposers()) for key in COUNTS}

    def to_json(self) -> dict[str, Any]:
        suspects = self.suspects()
        return {
            "nodes": {node.name: node.to_json() for node in self.nodes},
            "reporting": [node.name for node in self.reporting],
            "proposers": {
                p: {
                    "seen_by": {node.name: self.counts(node, p) for node in self.reporting},
                    "observers": [node.name for node in self.observers(p)],
                    "omitting_seen_by": self.omitting_seen_by(p),
                    "suspect": p in suspects,
                }
                for p in self.proposers()
            },
            "totals": {node.name: self.totals(node) for node in self.reporting},
            "suspects": suspects,
            "rule": RULE,
        }

    def render(self, console: Console) -> None:
        console.print(self._node_table())
        if len(self.reporting) < len(self.nodes):
            console.print(f"no metrics from {missing(self.nodes)}")
        console.print(self._proposer_table())
        console.print(self.verdict())

    def verdict(self) -> str:
        suspects = self.suspects()
        if not suspects:
            return (
                "suspected censors: none (no proposer seen omitting overdue transactions "
                "by a majority of the other reporting nodes)"
            )
        named = "; ".join(
            f"{p} ({len(self.omitting_seen_by(p))} of the {len(self.observers(p))} other "
            "reporting nodes saw it omit overdue transactions)"
            for p in suspects
        )
        return f"suspected censors: {named}"

    def _node_table(self) -> Table:
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
        for node in self.nodes:
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

    def _proposer_table(self) -> Table:
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
        for node in self.reporting:
            table.add_column(node.name, justify="right")
        table.add_column("omitting seen by")
        suspects = self.suspects()
        for p in self.proposers():
            cells = [_cell(self.counts(node, p)) for node in self.reporting]
            seen = f"{len(self.omitting_seen_by(p))} of {len(self.observers(p))}"
            table.add_row(p, *cells, f"{seen}{'  suspect' if p in suspects else ''}")
        table.add_section()
        table.add_row("total", *(_cell(self.totals(node)) for node in self.reporting), "")
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

        report.render(Console(markup=False))
    return 0 if len(report.reporting) == len(report.nodes) else 1
