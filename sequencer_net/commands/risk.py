"""`sequencer-net risk`: the sequencer-risk Monte Carlo, and `risk calibrate` to measure its
protocol-side numbers from a cluster run. numpy, matplotlib and rich load only when a risk
command runs, so `--help` stays fast."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from .arguments import integer
from .errors import Failure, UsageError

DEFAULT_TRIALS = 100_000
WIDTH = 88  # the description, wrapped by hand: the examples need the raw formatter
MAX_TRIALS = 2_000_000  # about 650 MB for four variants

EXAMPLES = """\
examples:
  sequencer-net risk configs/risk-4.toml                     the table, 100000 trials
  sequencer-net risk configs/risk-4.toml --trials 1000000 --seed 7 --json
  sequencer-net risk configs/risk-4.toml --report risk-report   plots and index.html too
  sequencer-net risk calibrate runs/local-4                  fit recovery etc. from a run
  sequencer-net risk configs/risk-4.toml --calibrated runs/local-4   ...and use them

The model, its formulas and the sources of the defaults: docs/risk-model.md.
"""


def add_risk_command(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "risk",
        help="Monte Carlo of downtime, censorship delay and position losses",
        description=textwrap.fill(
            "Simulate a year (the scenario's horizon) of sequencer failures, many times, for a "
            "single sequencer and for the scenario's BFT set and its variants, and report "
            "downtime, outage durations, a censored transaction's delay and the book's "
            "expected loss, VaR and CVaR side by side. `risk calibrate DIR` instead reads a "
            "cluster run's node logs and prints the protocol parameters measured there; the "
            "run must log at debug level (`cluster up ... --log-level debug`), where nodes "
            "write one `committed` line per height.",
            WIDTH,
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "target",
        metavar="SCENARIO.toml|calibrate",
        help="a scenario file (see configs/risk-*.toml), or `calibrate` to read a run",
    )
    p.add_argument("dir", nargs="?", metavar="DIR", help="with calibrate: a cluster run dir")
    p.add_argument(
        "--trials", type=_trials, default=DEFAULT_TRIALS, help=f"trials (default {DEFAULT_TRIALS})"
    )
    p.add_argument("--seed", type=integer(0), default=0, help="random seed (default 0)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--report", type=Path, metavar="D", help="also write PNG plots and index.html to D"
    )
    p.add_argument(
        "--calibrated",
        type=Path,
        metavar="DIR",
        help="use the protocol numbers `risk calibrate DIR` measures in place of the scenario's",
    )
    p.set_defaults(run=_run)


def _trials(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 1 <= value <= MAX_TRIALS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_TRIALS}, got {value}")
    return value


def _run(args: argparse.Namespace) -> int:
    try:
        return _dispatch(args)
    except ModuleNotFoundError as exc:
        if exc.name not in ("numpy", "matplotlib"):
            raise
        raise Failure(f"needs {exc.name}: pip install -e '.[risk]'") from None


def _dispatch(args: argparse.Namespace) -> int:
    if args.target == "calibrate":
        if args.dir is None:
            raise UsageError("usage: sequencer-net risk calibrate DIR")
        if args.report is not None or args.calibrated is not None:
            raise UsageError("--report and --calibrated go with a scenario, not with calibrate")
        from ..risk.calibrate import run_calibrate

        return run_calibrate(Path(args.dir), args.json)
    if args.dir is not None:
        raise UsageError(f"expected one scenario file, got also {args.dir!r}")
    from ..risk.report import run_scenario

    return run_scenario(
        Path(args.target), args.trials, args.seed, args.json, args.report, args.calibrated
    )
