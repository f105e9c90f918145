"""`sequencer-net report DIR [--out D]`: plots and a page about one cluster run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .errors import Failure, UsageError
from .target import add_dir_option, check_cluster_dir, cluster_dir, given_dir


def add_report_command(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "report",
        help="PNG plots and an offline index.html about a cluster run (needs matplotlib)",
        description="Read a cluster dir, during or after a run (its nodes' chain stores, "
        "logs and censorship.json, and DIR/submissions.jsonl if a script recorded one), and "
        "write to --out: heights over time per node with fault, partition, kill, restart, "
        "stall and slash events marked (heights.png), commit latency distribution and over "
        "time (latency.png), committed tx/s (throughput.png), rounds per height "
        "(rounds.png), inclusion delay per sender and namespace (inclusion.png), the "
        "numbers as data.json, and index.html with a summary table. Needs the `report` "
        "extra: pip install -e '.[report]'.",
    )
    add_dir_option(p, positional=True)
    p.add_argument(
        "--out", type=Path, metavar="D", help="where to write the report (default DIR/report)"
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    directory = cluster_dir(given_dir(args))
    check_cluster_dir(directory)
    out = args.out if args.out is not None else directory / "report"
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory; name a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot create it ({exc.strerror or exc})") from None
    try:
        import matplotlib  # noqa: F401  (before reading a long run: is it there at all?)

        from ..runreport.plots import write_report

        page, summary = write_report(directory, out)
    except ModuleNotFoundError as exc:
        if exc.name not in ("numpy", "matplotlib"):
            raise
        raise Failure(f"needs {exc.name}: pip install -e '.[report]'") from None
    if args.json:
        print(json.dumps({"report": str(page), **summary}))
        return 0
    print(f"report: {page}")
    for name in sorted(p.name for p in out.glob("*.png")):
        print(f"  {out / name}")
    print(
        f"{summary['heights']} heights in {summary['seconds']:g} s, "
        f"{summary['transactions']} transactions, {summary['slashes']} slashes, "
        f"events: {', '.join(f'{k} {v}' for k, v in summary['events'].items()) or 'none'}"
    )
    return 0
