"""Demo: a censoring sequencer against forced inclusion, with real node processes.

Starts the cluster of configs/censor-4.toml (n1 omits sender alice's transactions), submits
--txs transactions from alice and as many from bob to the honest nodes at a modest rate, waits
until they commit, and prints each sender's inclusion delay (submit to commit, in ms and in
heights) and which proposers included them, then `sequencer-net censorship report` over the
honest nodes' views (the spec says which nodes are faulty; a censor's own metrics are not
evidence about anyone). Then it does the same on a fresh cluster with forced_inclusion = false
and compares the two. Every node it starts is stopped again, also on an error or Ctrl-C.

    python scripts/censor_demo.py [--txs 100] [--rate 10] [--dir runs/censor-demo] [--json]

100 transactions per sender, so that p99 is not simply the slowest one and the censor has
enough turns with an overdue transaction of alice's to be seen omitting it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w
import trio
from rich.console import Console
from rich.table import Table

from sequencer_net.censorship.suspects import Report
from sequencer_net.client import Client
from sequencer_net.cluster.control import Cluster
from sequencer_net.cluster.init import init_cluster
from sequencer_net.cluster.probe import probe
from sequencer_net.commands.censorship import collect, missing, render, sources
from sequencer_net.commands.errors import UsageError, script_problem
from sequencer_net.config import ClusterSpec, load_cluster_spec
from sequencer_net.percentiles import summary
from sequencer_net.types import Tx

SPEC = Path(__file__).resolve().parent.parent / "configs" / "censor-4.toml"
SENDERS = ("alice", "bob")
STARTUP_S = 30.0


@dataclass
class Sent:
    """One submitted transaction: when (trio clock) and at which committed height it went
    out, and when, where and by whom it committed."""

    sender: str
    submitted_at: float
    submitted_height: int
    committed_at: float | None = None
    committed_height: int | None = None
    proposer: str | None = None
    refused: str | None = None

    def delay(self) -> tuple[float, int] | None:
        """Submit to commit in ms and in heights, once committed."""
        if self.committed_at is None or self.committed_height is None:
            return None
        ms = 1000 * (self.committed_at - self.submitted_at)
        return ms, self.committed_height - self.submitted_height


@dataclass
class Run:
    """One cluster's story: every transaction, and the nodes' censorship report."""

    mode: str
    forced_inclusion: bool
    sent: dict[bytes, Sent] = field(default_factory=dict)
    report: Report | None = None
    faulty_views: list[str] = field(default_factory=list)  # left out of the report
    report_problem: str | None = None
    clock_offset: float = 0.0  # unix time minus trio's clock, for the submissions file
    plots: str | None = None  # the `--report` page

    def senders(self) -> dict[str, dict[str, Any]]:
        """Per sender: how many committed, delay percentiles, and who included them."""
        by_sender = {}
        for sender in SENDERS:
            txs = [s for s in self.sent.values() if s.sender == sender]
            delays = [d for s in txs if (d := s.delay()) is not None]
            included_by = Counter(str(s.proposer) for s in txs if s.delay() is not None)
            by_sender[sender] = {
                "submitted": len(txs),
                "refused": sum(1 for s in txs if s.refused),
                "committed": len(delays),
                "ms": summary([ms for ms, _ in delays]),
                "heights": summary([heights for _, heights in delays]),
                "included_by": dict(sorted(included_by.items())),
            }
        return by_sender

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "forced_inclusion": self.forced_inclusion,
            "senders": self.senders(),
            "censorship": self.report.to_json() if self.report else None,
            "views_left_out": self.faulty_views,
            "censorship_problem": self.report_problem,
            "report": self.plots,
        }


# ---- one cluster -----------------------------------------------------------------------------


def write_spec(source: Path, forced_inclusion: bool, target: Path) -> Path:
    """The source spec with [chain] forced_inclusion set (comments are not kept)."""
    document = tomllib.loads(source.read_text())
    document.setdefault("chain", {})["forced_inclusion"] = forced_inclusion
    target.write_text(tomli_w.dumps(document))
    return target


@contextmanager
def running(spec: ClusterSpec, root: Path) -> Iterator[Cluster]:
    """A fresh cluster from the spec, up for the duration of the block, then down."""
    cluster = Cluster(init_cluster(spec, root))
    cluster.up()
    try:
        yield cluster
    finally:
        cluster.down()


async def wait_until_committing(address: str) -> None:
    with trio.fail_after(STARTUP_S):
        while (status := await probe(address)) is None or status["height"] < 2:
            await trio.sleep(0.2)


async def drive(
    addresses: dict[str, str], honest: list[str], run: Run, txs: int, rate: float, wait_s: float
) -> None:
    """Submit ``txs`` transactions per sender to the honest nodes in turn, ``rate`` per
    second in all, while following one honest node's commits; then wait (up to ``wait_s``)
    until every accepted transaction has committed."""
    tag = os.urandom(4).hex()
    watcher = await Client.connect(addresses[honest[0]])
    lookup = await Client.connect(addresses[honest[0]])
    submitters = [await Client.connect(addresses[name]) for name in honest]
    height: int = (await lookup.status())["height"]  # the last committed height seen
    run.clock_offset = time.time() - trio.current_time()

    async def follow(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        nonlocal height
        stream = watcher.commits()
        task_status.started()
        async for event in stream:
            now = trio.current_time()
            # A slow subscriber may lose events: look up every height up to this one.
            for h in range(height + 1, event["height"] + 1):
                batch = await lookup.batch(h)
                for txid in batch["tx_ids"] if batch else ():
                    sent = run.sent.get(txid)
                    if sent is not None and sent.committed_at is None:
                        sent.committed_at, sent.committed_height = now, h
                        sent.proposer = batch["proposer"]
            height = max(height, event["height"])

    def outstanding() -> int:
        return sum(1 for s in run.sent.values() if s.committed_at is None and not s.refused)

    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(follow)
            start = trio.current_time()
            for i in range(txs * len(SENDERS)):
                sender = SENDERS[i % len(SENDERS)]
                tx = Tx("rollup-a", sender, f"{tag}-{sender}-{i // len(SENDERS)}".encode())
                sent = run.sent[tx.id] = Sent(sender, trio.current_time(), height)
                [(txid, error)] = await submitters[i % len(submitters)].submit_encoded([tx.encoded])
                sent.refused = None if txid else error or "refused"
                await trio.sleep_until(start + (i + 1) / rate)
            with trio.move_on_after(wait_s):
                while outstanding():
                    await trio.sleep(0.1)
            nursery.cancel_scope.cancel()
    finally:
        for client in [watcher, lookup, *submitters]:
            await client.aclose()


def run_mode(spec: Path, forced_inclusion: bool, work: Path, args: argparse.Namespace) -> Run:
    mode = "forced-on" if forced_inclusion else "forced-off"
    run = Run(mode, forced_inclusion)
    cluster_spec = load_cluster_spec(write_spec(spec, forced_inclusion, work / f"{mode}.toml"))
    if args.report is not None:  # the report's commit times come from per-height debug lines
        cluster_spec = dataclasses.replace(cluster_spec, log_level="debug")
    honest = [n for n in cluster_spec.node_names if not cluster_spec.faults.get(n)]
    if not honest:
        raise UsageError(f"{spec}: every node has a fault; the demo submits to honest ones")
    with running(cluster_spec, work / mode) as cluster:
        addresses = {n: a.client for n, a in cluster.genesis.addresses.items()}
        trio.run(wait_until_committing, addresses[honest[0]])
        trio.run(drive, addresses, honest, run, args.txs, args.rate, args.wait)
        run.faulty_views = [n for n in cluster_spec.node_names if n not in honest]
        try:
            nodes = collect(sources(None, cluster.root))
            run.report = Report([node for node in nodes if node.name in honest])
        except UsageError as exc:
            run.report_problem = str(exc)
        if run.report is not None and not run.report.reporting:
            run.report_problem = f"no censorship metrics: {missing(run.report.nodes)}"
            run.report = None
    if args.report is not None:
        run.plots = str(write_plots(run, cluster.root, args.report / mode))
    return run


def write_plots(run: Run, root: Path, out: Path) -> Path:
    """`sequencer-net report` of this cluster, with the submissions recorded for it."""
    from sequencer_net.runreport.plots import write_report
    from sequencer_net.runreport.record import SUBMISSIONS, Submission, write_submissions

    write_submissions(
        root / SUBMISSIONS,
        [
            Submission(txid.hex(), s.sender, "rollup-a", s.submitted_at + run.clock_offset)
            for txid, s in run.sent.items()
            if not s.refused
        ],
    )
    page, _ = write_report(root, out)
    return page


# ---- output ----------------------------------------------------------------------------------


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _triple(stats: dict[str, float | None]) -> str:
    return " / ".join(_number(stats[p]) for p in ("p50", "p99", "max"))


def print_run(console: Console, run: Run) -> None:
    state = "on" if run.forced_inclusion else "off"
    table = Table(title=f"forced inclusion {state}: inclusion delay per sender (client view)")
    for column in ("sender", "committed", "ms p50/p99/max", "heights p50/p99/max", "included by"):
        table.add_column(column)
    for sender, s in run.senders().items():
        refused = f" ({s['refused']} refused)" if s["refused"] else ""
        table.add_row(
            sender,
            f"{s['committed']} of {s['submitted']}{refused}",
            _triple(s["ms"]),
            _triple(s["heights"]),
            ", ".join(f"{p} {n}" for p, n in s["included_by"].items()) or "-",
        )
    console.print(table)
    if run.report is not None:
        if run.faulty_views:
            console.print(f"views of the faulty nodes left out: {', '.join(run.faulty_views)}")
        render(run.report, console)
    else:
        console.print(f"censorship report: {run.report_problem}")


def print_comparison(console: Console, runs: list[Run]) -> None:
    table = Table(title="forced inclusion on vs off")
    for column in ("forced inclusion", "sender", "committed", "ms p50/p99", "heights p50/p99"):
        table.add_column(column)
    table.add_column("suspected censors")
    for run in runs:
        suspects = (", ".join(run.report.suspects()) or "none") if run.report else "?"
        for sender, s in run.senders().items():
            table.add_row(
                "on" if run.forced_inclusion else "off",
                sender,
                f"{s['committed']} of {s['submitted']}",
                f"{_number(s['ms']['p50'])} / {_number(s['ms']['p99'])}",
                f"{_number(s['heights']['p50'])} / {_number(s['heights']['p99'])}",
                suspects,
            )
    console.print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--txs", type=int, default=100, help="transactions per sender (100)")
    parser.add_argument("--rate", type=float, default=10.0, help="transactions/s in all (10)")
    parser.add_argument(
        "--wait", type=float, default=60.0, help="seconds to wait for the last commits (60)"
    )
    parser.add_argument("--spec", type=Path, default=SPEC, help="cluster spec (censor-4.toml)")
    parser.add_argument("--dir", type=Path, help="keep the clusters here (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print one JSON summary instead")
    parser.add_argument(
        "--report",
        type=Path,
        metavar="D",
        help="write `sequencer-net report` plots of each run to D/forced-on and D/forced-off",
    )
    args = parser.parse_args()
    if args.txs < 1 or args.rate <= 0 or args.wait <= 0:
        parser.error("--txs, --rate and --wait must be positive")
    console = Console(markup=False, stderr=args.json)  # with --json, progress goes to stderr
    runs: list[Run] = []
    where = (
        nullcontext(str(args.dir))
        if args.dir
        else tempfile.TemporaryDirectory(prefix="censor-demo-")
    )
    try:
        with where as work:
            Path(work).mkdir(parents=True, exist_ok=True)
            for forced_inclusion in (True, False):
                console.print(f"starting {args.spec.name}, forced_inclusion = {forced_inclusion}")
                runs.append(run_mode(args.spec, forced_inclusion, Path(work), args))
                if not args.json:
                    print_run(console, runs[-1])
                    if runs[-1].plots:
                        console.print(f"report: {runs[-1].plots}")
    except KeyboardInterrupt:
        print("interrupted (every node stopped)", file=sys.stderr)
        return 130
    except Exception as exc:
        problem = script_problem(exc, STARTUP_S)
        if problem is None:
            raise
        print(f"censor_demo: error: {problem}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"spec": str(args.spec), "runs": [run.to_json() for run in runs]}))
    else:
        print_comparison(console, runs)
    complete = all(s["committed"] == s["submitted"] for r in runs for s in r.senders().values())
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
