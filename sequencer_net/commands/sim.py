"""`sequencer-net sim`: run simulated clusters with adversaries over many seeds."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from typing import TYPE_CHECKING, Any

from .arguments import MAX_GST_MS, MAX_SIM_HEIGHTS, MAX_TOTAL_STAKE, integer
from .errors import UsageError

# The simulator's own list (sim.scenario.SCHEDULES), repeated so `sim --help` needs no sim
# import; tests/cli/test_cli.py checks the two agree.
SCHEDULES = ("twins", "random")

if TYPE_CHECKING:  # imported where used: `sim --help` must not load rich, trio or the core
    from rich.console import Console

    from ..sim.batch import Summary
    from ..sim.runner import SimResult
    from ..sim.scenario import Scenario


def add_sim_command(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "sim",
        help="run a simulated cluster with adversaries in virtual time",
        description="Run N validators' real consensus code in one process over a simulated "
        "network, in virtual time, once per seed. Each seed is reproducible. After every run "
        "a checker asserts agreement, validity, liveness after GST and accountability; the "
        "command exits 1 and names the failing seeds if any invariant broke.",
    )
    p.add_argument(
        "--nodes",
        type=integer(1, 1000),
        default=None,
        help="validators (default 4, or the --network spec's count)",
    )
    p.add_argument(
        "--stake", type=_stakes, default=(), help="comma-separated stakes, e.g. 10,10,10,5"
    )
    p.add_argument(
        "--twins",
        type=integer(0, 1000),
        default=0,
        help="equivocating validators, each run as two instances sharing one key",
    )
    p.add_argument(
        "--mute",
        type=integer(0, 1000),
        default=0,
        help="validators that never propose, vote or gossip (they still follow the chain)",
    )
    p.add_argument(
        "--crash",
        type=integer(0, 1000),
        default=0,
        help="honest validators that crash and restart before GST",
    )
    p.add_argument(
        "--fault",
        dest="faults",
        metavar="NODE=SPEC",
        type=_fault,
        action="append",
        default=[],
        help="run NODE behind the real fault layer with SPEC, e.g. n3=withhold or "
        "'n4=drop 0.2' (repeatable; mute, withhold, equivocate, censor, delay, drop; the "
        "first four count as byzantine stake)",
    )
    p.add_argument(
        "--drop", type=float, default=0.0, help="probability a message is lost before GST"
    )
    p.add_argument(
        "--duplicate", type=float, default=0.0, help="probability a message arrives twice"
    )
    p.add_argument(
        "--partitions",
        action="store_true",
        help="random partitions that change until GST, then heal",
    )
    p.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default="twins",
        help="twins (default, with --twins): before GST, plan rounds so twins split honest "
        "votes (lock some nodes, let one commit, offer the rest a conflicting value); "
        "random: only the random partitions",
    )
    p.add_argument(
        "--no-slashing",
        dest="slashing",
        action="store_false",
        help="keep evidence out of batches, so equivocators are never jailed",
    )
    p.add_argument(
        "--shares",
        action="store_true",
        help="register rollup-a and rollup-b at half the batch each, with batches small "
        "enough for fair shares to bind (e.g. with --fault 'n4=censor namespace=rollup-b')",
    )
    p.add_argument(
        "--private",
        action="store_true",
        help="deal a threshold key, encrypt every transaction, and check no honest node "
        "releases a decryption share before its commit (e.g. with --fault n2=leak-shares)",
    )
    p.add_argument(
        "--gst-ms",
        type=integer(-1, MAX_GST_MS),
        default=-1,
        help="global stabilisation time in virtual ms (default 5000 with adversaries, else 0)",
    )
    p.add_argument(
        "--heights",
        type=integer(1, MAX_SIM_HEIGHTS),
        default=20,
        help="heights every honest node must commit (default 20)",
    )
    p.add_argument(
        "--network",
        metavar="SPEC.toml",
        help="emulate the WAN of a cluster spec's [network] table (e.g. configs/wan-7.toml): "
        "each message takes its pair of regions' one-way delay plus seeded jitter; the "
        "spec also gives the node count, stakes and timeouts",
    )
    p.add_argument(
        "--seeds", type=integer(1, 10**6), default=1, help="how many seeds to run (default 1)"
    )
    p.add_argument("--seed", type=integer(0), default=0, help="first seed (default 0)")
    p.add_argument(
        "--workers",
        type=integer(0, 256),
        default=0,
        help="worker processes (default: one per core)",
    )
    p.add_argument(
        "--allow-unsafe",
        action="store_true",
        help="run even with byzantine stake at or above a third",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.set_defaults(run=_run_sim)


def _stakes(text: str) -> tuple[int, ...]:
    try:
        stakes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of integers"
        ) from None
    if sum(stakes) > MAX_TOTAL_STAKE:
        raise argparse.ArgumentTypeError(f"stakes must add up to 2**60 at most, got {text!r}")
    return stakes


def _fault(text: str) -> tuple[str, str]:
    node, sep, spec = text.partition("=")
    if not sep or not node or not spec.strip():
        raise argparse.ArgumentTypeError(f"expected NODE=SPEC, e.g. n3=withhold, got {text!r}")
    return node, spec.strip()


def _fault_indices(faults: list[tuple[str, str]], nodes: int) -> tuple[tuple[int, str], ...]:
    """``--fault`` node names as validator indices (n1 is 0)."""
    indexed = []
    for node, spec in faults:
        number = node[1:]
        if not (node.startswith("n") and number.isdigit() and 1 <= int(number) <= nodes):
            raise UsageError(f"--fault {node}={spec}: no node {node!r}; the nodes are n1..n{nodes}")
        indexed.append((int(number) - 1, spec))
    return tuple(indexed)


def _run_sim(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ..sim.batch import summarise
    from ..sim.scenario import Scenario

    wan = _wan(args)
    try:
        scenario = Scenario(
            **wan,
            nodes=args.nodes,
            stakes=args.stake,
            twins=args.twins,
            mute=args.mute,
            crash=args.crash,
            drop=args.drop,
            duplicate=args.duplicate,
            partitions=args.partitions,
            faults=_fault_indices(args.faults, args.nodes),
            schedule=args.schedule,
            slashing=args.slashing,
            shares=args.shares,
            private=args.private,
            heights=args.heights,
            gst_ms=args.gst_ms,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.seeds < 1:
        raise UsageError("--seeds must be at least 1")
    if not scenario.byzantine_stake_is_safe() and not args.allow_unsafe:
        raise UsageError(
            "twin, mute and byzantine-fault validators hold a third of the stake or more; "
            "BFT cannot promise agreement or liveness then. Pass --allow-unsafe to watch it fail."
        )
    seeds = range(args.seed, args.seed + args.seeds)
    console = Console(stderr=args.json)
    started = time.perf_counter()
    results = _collect(scenario, seeds, args.workers or None, show_progress=not args.json)
    wall = time.perf_counter() - started
    summary = summarise(results)
    if args.json:
        print(
            json.dumps(
                {"scenario": _describe(scenario), "wall_s": round(wall, 2), **summary.to_json()}
            )
        )
    else:
        if len(results) == 1:
            _print_chain(console, results[0])
        _print_summary(console, scenario, summary, wall)
        if summary.failed:
            console.print(f"reproduce one: {replay_command(args, summary.failed[0].seed)}")
    return 1 if summary.failed else 0


def _wan(args: argparse.Namespace) -> dict[str, Any]:
    """The Scenario fields a ``--network`` spec gives (latency, timeouts); sets ``args.nodes``
    and, unless given, ``args.stake`` from it."""
    if args.network is None:
        args.nodes = args.nodes or 4
        return {}
    from ..config import ConfigError, load_cluster_spec

    try:
        spec = load_cluster_spec(args.network)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    if spec.network is None:
        raise UsageError(f"--network {args.network}: the spec has no [network] table")
    if args.nodes not in (None, spec.nodes):
        raise UsageError(
            f"--nodes {args.nodes}: {args.network} places {spec.nodes} nodes; leave --nodes out"
        )
    args.nodes = spec.nodes
    args.stake = args.stake or spec.stakes
    return {
        "latency": spec.network.matrix(spec.node_names),
        "latency_seed": spec.network.seed,
        "timeouts": spec.timeouts,
    }


def replay_command(args: argparse.Namespace, seed: int) -> str:
    """The full command that replays ``seed`` alone, every scenario flag spelled out."""
    parts = [
        "sequencer-net sim",
        f"--nodes {args.nodes}" if args.nodes is not None else "",
        f"--network {shlex.quote(args.network)}" if args.network else "",
        f"--stake {','.join(map(str, args.stake))}" if args.stake else "",
        f"--twins {args.twins}" if args.twins else "",
        f"--mute {args.mute}" if args.mute else "",
        f"--crash {args.crash}" if args.crash else "",
        *(f"--fault {shlex.quote(f'{node}={spec}')}" for node, spec in args.faults),
        f"--drop {args.drop:g}" if args.drop else "",
        f"--duplicate {args.duplicate:g}" if args.duplicate else "",
        "--partitions" if args.partitions else "",
        f"--schedule {args.schedule}" if args.schedule != "twins" else "",
        "" if args.slashing else "--no-slashing",
        "--shares" if args.shares else "",
        "--private" if args.private else "",
        f"--gst-ms {args.gst_ms}" if args.gst_ms != -1 else "",
        f"--heights {args.heights}",
        "--allow-unsafe" if args.allow_unsafe else "",
        f"--seeds 1 --seed {seed}",
    ]
    return " ".join(p for p in parts if p)


def _collect(
    scenario: Scenario, seeds: range, workers: int | None, show_progress: bool
) -> list[SimResult]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from ..sim.batch import run_seeds

    results: list[SimResult] = []
    if not show_progress or len(seeds) == 1 or not sys.stderr.isatty():
        return list(run_seeds(scenario, seeds, workers))
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("seeds", total=len(seeds))
        for result in run_seeds(scenario, seeds, workers):
            results.append(result)
            progress.advance(task)
    return results


def _describe(s: Scenario) -> dict[str, object]:
    return {
        "nodes": s.nodes,
        "stakes": list(s.stake_list),
        "twins": s.twins,
        "mute": s.mute,
        "crash": s.crash,
        "drop": s.drop,
        "duplicate": s.duplicate,
        "partitions": s.partitions,
        "faults": [f"n{idx + 1}={spec}" for idx, spec in s.faults],
        "schedule": "twins" if s.adversarial_schedule else "random",
        "gst_ms": s.stabilisation_ms,
        "heights": s.heights,
        "wan": bool(s.latency),
    }


def _print_chain(console: Console, result: SimResult) -> None:
    from rich.table import Table

    table = Table(title=f"seed {result.seed}: committed chain (agreed by all honest nodes)")
    for column in ("height", "batch id", "proposer", "round", "txs"):
        table.add_column(
            column, justify="right" if column in ("height", "round", "txs") else "left"
        )
    for row in result.report.chain:
        table.add_row(str(row.height), row.batch_id, row.proposer, str(row.round), str(row.txs))
    console.print(table)


def _print_summary(console: Console, scenario: Scenario, s: Summary, wall: float) -> None:
    from rich.table import Table

    adversaries = (
        ", ".join(
            text
            for text, on in (
                (f"twins {scenario.twins}", scenario.twins),
                (f"mute {scenario.mute}", scenario.mute),
                (f"crash {scenario.crash}", scenario.crash),
                *((f"n{idx + 1} {spec}", True) for idx, spec in scenario.faults),
                (f"drop {scenario.drop}", scenario.drop),
                (f"duplicate {scenario.duplicate}", scenario.duplicate),
                ("partitions", scenario.partitions),
                ("twins schedule", scenario.adversarial_schedule),
            )
            if on
        )
        or "none"
    )
    table = Table(
        title=f"{s.seeds} seed(s), {scenario.nodes} nodes, stakes {list(scenario.stake_list)}, "
        f"adversaries: {adversaries}",
        show_header=False,
    )
    table.add_column(style="bold")
    table.add_column()
    table.add_row("seeds passed", f"{s.seeds - len(s.failed)} / {s.seeds}")
    table.add_row("violations", str(sum(len(r.report.violations) for r in s.failed)))
    table.add_row(
        "heights committed",
        f"min {s.heights_min}, median {s.heights_median:g}, max {s.heights_max} "
        "(lowest honest node per seed)",
    )
    table.add_row(
        "rounds per height", f"mean {s.rounds_per_height_mean}, max {s.rounds_per_height_max}"
    )
    table.add_row("view changes", f"{s.view_changes} failed rounds over {s.heights_total} heights")
    table.add_row(
        "evidence found",
        f"{s.evidence_total} in {s.seeds_with_evidence} seed(s); "
        f"offenders: {', '.join(s.offenders) or 'none'}",
    )
    table.add_row("slashed", f"offender jailed by the end in {s.seeds_with_slash} seed(s)")
    table.add_row(
        "messages", f"{s.messages_sent} sent, {s.messages_dropped} lost to drops and partitions"
    )
    table.add_row(
        "virtual time",
        f"median {s.virtual_s_median:.1f} s per seed "
        f"(GST at {scenario.stabilisation_ms / 1000:g} s)",
    )
    table.add_row("wall time", f"{wall:.1f} s")
    console.print(table)
    for result in s.failed[:10]:
        console.print(f"[red]seed {result.seed} FAILED[/red]")
        for violation in result.report.violations[:5]:
            console.print(f"  {violation}")
