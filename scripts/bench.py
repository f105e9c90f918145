"""Benchmark: a fresh N-node cluster under the highest load it sustains, optionally side by
side with pysyncobj (a Python Raft: crash faults only, no signatures) in the same run.

Starts a cluster of real node processes on 127.0.0.1, offers load at increasing rates (each
for a fixed time, open loop: see sequencer_net.load; 1k, 2k, 4k, ... then two bisecting steps
between the last sustained and the failed rate, each of those on a fresh cluster so that an
overloaded step's backlog is not charged to them), and keeps the highest rate at which
(nearly) everything offered commits at the offered pace with p50 latency under a second.
Prints one JSON line per cluster size: nodes, tx size, committed tx/s, p50/p99 commit latency,
node CPU seconds per 1k committed tx, heights/s, the load generator's own CPU, node RSS and
peer bytes sent per committed transaction.

    python scripts/bench.py [--nodes 4 7] [--size 100] [--seconds 5] [--clients 2]

``--compare pysyncobj`` (needs the `bench` extra) instead alternates our 4-node cluster with
a 4-process pysyncobj cluster (scripts/pysyncobj_node.py) ``--runs`` times (default 3), each
run a fresh cluster and the same ramp and payload size, and prints one JSON object: every
run, the medians, and the ratios ours/theirs of committed tx/s and of p50 latency.

    python scripts/bench.py --compare pysyncobj [--runs 3] [--rate R] [--seconds 5]

Leader reputation: ``--crash-one`` kills n1 once the cluster commits (load goes to the others)
and ``--rate R`` offers one fixed rate instead of the ramp, so that

    python scripts/bench.py --nodes 4 --rate 4000 --seconds 10
    python scripts/bench.py --nodes 4 --rate 4000 --seconds 10 --crash-one
    python scripts/bench.py --nodes 4 --rate 4000 --seconds 10 --crash-one --reputation-window 0

compare fault-free throughput with a crashed proposer, with and without reputation.

``--encrypted`` deals the cluster a threshold key (`cluster init --private`) and encrypts
every payload to it (the load generator seals them before the clock starts), so that

    python scripts/bench.py --nodes 4 --rate 200 --seconds 10
    python scripts/bench.py --nodes 4 --rate 200 --seconds 10 --encrypted

compare plaintext and encrypted throughput and commit latency (docs/private.md: Cost).

WAN: ``--config SPEC.toml`` benchmarks the cluster a spec describes (its nodes, stakes,
timeouts and params) instead of ``--nodes``; a spec with a ``[network]`` table (e.g.
configs/wan-7.toml, docs/wan.md) runs twice, over its emulated WAN and again with the same spec
on plain loopback, and prints one JSON object with both beside each other. Every result has
``rounds``: of the heights committed, how many needed a round after the first.

    python scripts/bench.py --config configs/wan-7.toml --rates 500,1000 --seconds 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import trio

from sequencer_net.api_protocol import ApiError
from sequencer_net.cluster.control import Cluster
from sequencer_net.cluster.errors import ClusterError
from sequencer_net.cluster.init import init_cluster
from sequencer_net.cluster.ports import free_ports
from sequencer_net.cluster.probe import probe
from sequencer_net.cluster.startup import wait_ready
from sequencer_net.commands.errors import find_cause
from sequencer_net.config import ClusterSpec, ConfigError, load_cluster_spec, load_genesis
from sequencer_net.genesis import ChainParams
from sequencer_net.load import LoadReport, run_load
from sequencer_net.percentiles import percentile
from sequencer_net.store.sqlite import SqliteChainStore

RATES = (1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000)
REFINE_STEPS = 2  # after the ladder fails a step: halve the gap to the last sustained one twice


class Ramp:
    """The rates to offer: up the ladder until a step fails, then bisect between the last
    sustained rate and the lowest failed one ``refine`` times, so the best step is known
    within an eighth of the ladder's factor of two instead of only to that factor."""

    def __init__(self, rates: tuple[int, ...], refine: int = REFINE_STEPS) -> None:
        self._ladder = list(rates[1:])
        self._refine = refine if len(rates) > 1 else 0
        self._ok: int | None = None
        self._failed: int | None = None
        self._next: int | None = rates[0]

    def __iter__(self) -> Ramp:
        return self

    def __next__(self) -> int:
        if self._next is None:
            raise StopIteration
        return self._next

    def result(self, rate: int, sustained: bool) -> None:
        if sustained:
            self._ok = rate
        else:
            self._failed = rate
        if self._failed is None:
            self._next = self._ladder.pop(0) if self._ladder else None
        elif self._ok is None or self._refine == 0:
            self._next = None
        else:
            self._refine -= 1
            middle = (self._ok + self._failed) // 2
            self._next = middle if self._ok < middle < self._failed else None


TICKS_PER_S = os.sysconf("SC_CLK_TCK")
PYSYNCOBJ_NODE = Path(__file__).with_name("pysyncobj_node.py")
PYSYNCOBJ_NODES = 4
READY_TIMEOUT_S = 60.0
COUNTERS = ("bytes_sent", "signatures", "fsyncs", "height")
# A sustained step: its load report, node CPU s, RSS MB, bytes per tx, counts per height.
Best = tuple[LoadReport, float, float | None, float | None, dict[str, float | None]]
COMPARED = ("committed_tx_per_s", "latency_p50_ms", "latency_p99_ms")


def cpu_seconds(pids: list[int]) -> float:
    """CPU seconds of ``pids`` so far; a process that died and was reaped counts nothing."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / TICKS_PER_S


def alive(pid: int) -> bool:
    """The process runs (a zombie, killed but not yet reaped, counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def rss_mb(pids: Sequence[int]) -> float | None:
    """The largest resident set (VmRSS) of ``pids``, in MB; None if none can be read."""
    found = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                found.append(int(line.split()[1]) / 1024)
    return round(max(found), 1) if found else None


def median(values: Sequence[float | None]) -> float | None:
    """The median of the values that were measured (None: not measured), None if none were."""
    measured = [v for v in values if v is not None]
    return round(statistics.median(measured), 1) if measured else None


def ratio(ours: float | None, theirs: float | None) -> float | None:
    return round(ours / theirs, 3) if ours is not None and theirs else None


def summarize(runs: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Medians per system over the runs, and the ratios ours/theirs of those medians."""
    medians = {
        system: {key: median([run[system].get(key) for run in runs]) for key in COMPARED}
        for system in ("ours", "pysyncobj")
    }
    ours, theirs = medians["ours"], medians["pysyncobj"]
    return {
        "median": medians,
        "ratio_ours_over_pysyncobj": {
            "committed_tx_per_s": ratio(ours["committed_tx_per_s"], theirs["committed_tx_per_s"]),
            "latency_p50_ms": ratio(ours["latency_p50_ms"], theirs["latency_p50_ms"]),
        },
    }


def failed_step(
    rate: int, offered: float, committed_tps: float, committed_share: float, p50: float | None
) -> dict[str, object]:
    """The first step of the ramp that was not sustained, to show how far off it was."""
    return {
        "rate": rate,
        "offered_tx_per_s": offered,
        "committed_tx_per_s": committed_tps,
        "committed_share": round(committed_share, 3),
        "latency_p50_ms": p50,
    }


async def wait_until_committing(address: str) -> None:
    with trio.fail_after(30):
        while (status := await probe(address)) is None or status["height"] < 2:
            await trio.sleep(0.2)


async def counters(addresses: Sequence[str]) -> dict[str, int] | None:
    """Peer bytes sent, signatures made, fsyncs and heights, summed over the nodes so far
    (None if a node does not say)."""
    total = dict.fromkeys(COUNTERS, 0)
    for address in addresses:
        status = await probe(address)
        if status is None or not all(key in status for key in COUNTERS):
            return None
        for key in COUNTERS:
            total[key] += status[key]
    return total


def per_unit(
    before: dict[str, int] | None, after: dict[str, int] | None, key: str, unit: float
) -> float | None:
    """How much of ``key`` the nodes added per ``unit`` between two readings."""
    if before is None or after is None or not unit:
        return None
    return round((after[key] - before[key]) / unit, 2)


def sustainable(
    committed: int, offered: int, committed_tps: float, p50: float | None, rate: int
) -> bool:
    """Nearly all of the offered load commits, at the offered pace, within a second (p50)."""
    return committed >= 0.98 * offered > 0 and committed_tps >= 0.9 * rate and (p50 or 1e9) < 1000


def chain_rounds(root: Path, chain_id: str, name: str = "n1") -> list[int]:
    """The round each height committed in, from one node's store (stopped)."""
    store = SqliteChainStore(root / name / "data" / "chain.sqlite", chain_id)
    try:
        entries = (store.get(h) for h in range(1, store.last_height() + 1))
        return [e.certificate.round for e in entries if e is not None]
    finally:
        store.close()


def rounds_summary(rounds: Sequence[int]) -> dict[str, object]:
    """How often heights needed more than one round."""
    failed = sum(1 for r in rounds if r > 0)
    return {
        "heights": len(rounds),
        "heights_with_failed_rounds": failed,
        "failed_round_share": round(failed / len(rounds), 3) if rounds else None,
        "failed_rounds": sum(rounds),
        "max_round": max(rounds, default=0),
    }


class OurCluster:
    """One fresh cluster of ``spec`` in a temp dir, up and committing (n1 killed first with
    ``crash_one``); :meth:`close` stops it and gives the round each height committed in."""

    def __init__(self, spec: ClusterSpec, crash_one: bool, report: Path | None) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self._report = report
        self.root = init_cluster(spec, Path(self._tmp.name) / "c")
        self.chain_id = spec.chain_id
        self._cluster = Cluster(self.root)
        self.started = self._cluster.up()
        genesis = load_genesis(self.root / "genesis.toml")
        self.addresses = {n: a.client for n, a in genesis.addresses.items()}
        self.key = genesis.genesis.private.public_key if genesis.genesis.private else b""
        self._first = next(iter(self.started), "n1")
        try:
            trio.run(wait_ready, self._cluster)  # names a node that died at start-up, and why
            trio.run(wait_until_committing, self.addresses["n1"])
        except BaseException:
            self.close()
            raise
        if crash_one:
            self._cluster.kill("n1")
            del self.addresses["n1"], self.started["n1"]

    @property
    def pids(self) -> list[int]:
        return list(self.started.values())

    def close(self) -> list[int]:
        try:
            self._cluster.down()
            rounds = chain_rounds(self.root, self.chain_id, self._first)
            if self._report is not None:  # `sequencer-net report` of the run, before tmp goes
                from sequencer_net.runreport.plots import write_report

                write_report(self.root, self._report)
            return rounds
        finally:
            self._tmp.cleanup()


def bench(
    nodes: int,
    size: int,
    seconds: float,
    rates: tuple[int, ...] = RATES,
    crash_one: bool = False,
    reputation_window: int = ChainParams().reputation_window,
    clients: int = 1,
    report_dir: Path | None = None,
    spec: ClusterSpec | None = None,
    encrypted: bool = False,
) -> dict[str, object]:
    """One cluster's ramp; ``spec`` (from --config) replaces the one made from ``nodes``.
    A step after a failed one runs on a fresh cluster: an overloaded step leaves backlogs
    (a full mempool, the tx index behind) that would be charged to the next rate."""
    if spec is None:
        spec = ClusterSpec(
            name=f"bench-{nodes}{'-encrypted' if encrypted else ''}",
            nodes=nodes,
            chain=ChainParams(reputation_window=reputation_window),
            private=encrypted,
        )
    nodes, reputation_window = spec.nodes, spec.chain.reputation_window
    encrypted = spec.private
    network = "wan" if spec.network is not None else "lan"
    clusters: list[list[int]] = []  # the rounds of each cluster stopped so far
    best: Best | None = None
    failed: dict[str, object] | None = None
    lost: list[str] = []
    ramp = Ramp(rates)
    cluster: OurCluster | None = None
    try:
        for rate in ramp:
            if cluster is None:
                plots = (
                    None if report_dir is None else report_dir / f"{spec.name}-{len(clusters) + 1}"
                )
                cluster = OurCluster(spec, crash_one, plots)
            addresses, started = cluster.addresses, cluster.started
            if not addresses:
                break
            before, counted_before = (
                cpu_seconds(cluster.pids),
                trio.run(counters, list(addresses.values())),
            )
            load = trio.run(
                run_load, list(addresses.values()), rate, seconds, size, 10.0, clients, cluster.key
            )
            cpu = cpu_seconds(cluster.pids) - before
            for gone in load.gone:  # died under load: later steps load the others
                name = next(n for n, a in addresses.items() if a == gone)
                if alive(started[name]):
                    continue  # only slow to answer (an overloaded step): it stays
                lost.append(name)
                del addresses[name], started[name]
            rss = rss_mb(cluster.pids)
            counted = trio.run(counters, list(addresses.values()))
            per_tx = per_unit(counted_before, counted, "bytes_sent", load.committed)
            # Summed heights over the nodes are node-heights: the counts per node per height.
            node_heights = (
                counted["height"] - counted_before["height"]
                if counted is not None and counted_before is not None
                else 0
            )
            per_height = {
                f"{key}_per_height": per_unit(counted_before, counted, key, node_heights)
                for key in ("signatures", "fsyncs")
            }
            ok = len(rates) == 1 or sustainable(
                load.committed,
                load.submitted,
                load.committed_tps,
                load.latency_p50_ms,
                rate,
            )
            ramp.result(rate, ok)
            if ok:
                best = (load, cpu, rss, per_tx, per_height)
            else:  # the lowest failed step, which the bisection only lowers
                failed = failed_step(
                    rate,
                    load.offered_tps,
                    load.committed_tps,
                    load.committed / max(load.submitted, 1),
                    load.latency_p50_ms,
                )
                clusters.append(cluster.close())
                cluster = None
    finally:
        if cluster is not None:
            clusters.append(cluster.close())
    rounds = rounds_summary([r for rounds in clusters for r in rounds])
    if best is None:
        return {
            "nodes": nodes,
            "tx_size": size,
            "network": network,
            "encrypted": encrypted,
            "error": "no rate was sustainable",
            "failed_step": failed,
            "nodes_lost_under_load": lost,
            "rounds": rounds,
        }
    report, cpu, rss, per_tx, per_height = best
    return {
        "clusters": len(clusters),
        "benchmark": "cluster_max_sustainable_load",
        "nodes": nodes,
        "network": network,
        "tx_size": size,
        "encrypted": encrypted,
        "rate": report.rate,
        "offered_tx_per_s": report.offered_tps,
        "committed_tx_per_s": report.committed_tps,
        "latency_p50_ms": report.latency_p50_ms,
        "latency_p99_ms": report.latency_p99_ms,
        "busy_answers": report.busy,
        "unanswered": report.unanswered,
        "nodes_lost_under_load": lost,
        "cpu_s_per_1k_tx": round(1000 * cpu / report.committed, 3) if report.committed else None,
        "heights_per_s": round(report.heights / report.duration_s, 1),
        "load_generator_cpu_s": report.client_cpu_s,
        "load_generator_cpu_share": round(report.client_cpu_s / report.duration_s, 2),
        "load_clients": report.clients,
        "node_rss_mb_max": rss,
        "peer_bytes_sent_per_committed_tx": per_tx,
        **per_height,  # per node, each height: consensus and data-path signatures, fsyncs
        "failed_step": failed,
        "seconds_per_rate": seconds,
        "crashed_proposer": crash_one,
        "reputation_window": reputation_window,
        "rounds": rounds,
    }


def bench_spec(spec: ClusterSpec, args: argparse.Namespace, rates: tuple[int, ...]) -> dict:
    """The cluster ``spec`` describes, benchmarked with the command line's settings."""
    return bench(
        spec.nodes,
        args.size,
        args.seconds,
        rates,
        args.crash_one,
        clients=args.clients,
        report_dir=args.report,
        spec=spec,
    )


def wan_and_lan(spec: ClusterSpec, args: argparse.Namespace, rates: tuple[int, ...]) -> dict:
    """The spec's cluster over its emulated WAN, then the same cluster on plain loopback."""
    runs = {
        label: bench_spec(replace(run_spec, name=f"{spec.name}-{label}"), args, rates)
        for label, run_spec in (("wan", spec), ("lan", replace(spec, network=None)))
    }
    return {"benchmark": "wan_beside_lan", "config": str(args.config), **runs}


class PysyncobjCluster:
    """Four pysyncobj processes on loopback, each loading itself with a quarter of the rate."""

    def __init__(self) -> None:
        ports = free_ports(PYSYNCOBJ_NODES)
        addresses = [f"127.0.0.1:{p}" for p in ports]
        self.procs = [
            subprocess.Popen(
                [sys.executable, str(PYSYNCOBJ_NODE), me, *(a for a in addresses if a != me)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for me in addresses
        ]
        deadline = time.monotonic() + READY_TIMEOUT_S
        for proc in self.procs:
            self._answer(proc, deadline)

    def _answer(self, proc: subprocess.Popen[str], deadline: float) -> dict[str, Any]:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line or time.monotonic() > deadline:
            raise RuntimeError(f"pysyncobj process {proc.pid} did not answer (exit {proc.poll()})")
        return json.loads(line)

    def offer(self, rate: int, seconds: float, size: int) -> dict[str, Any]:
        share = rate // PYSYNCOBJ_NODES
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(json.dumps({"rate": share, "seconds": seconds, "size": size}) + "\n")
            proc.stdin.flush()
        deadline = time.monotonic() + seconds + 30
        answers = [self._answer(proc, deadline) for proc in self.procs]
        latencies = sorted(x for a in answers for x in a["latencies_ms"])
        window = max(a["committed_window_s"] for a in answers)
        return {
            "offered": sum(a["sent"] for a in answers),
            "committed": len(latencies),
            "failed": sum(a["failed"] for a in answers),
            "committed_tps": round(len(latencies) / window, 1) if window else 0.0,
            "p50": percentile(latencies, 0.5),
            "p99": percentile(latencies, 0.99),
            "cpu_s": sum(a["cpu_s"] for a in answers),
            "rss": rss_mb([p.pid for p in self.procs]),
        }

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def bench_pysyncobj(size: int, seconds: float, rates: tuple[int, ...]) -> dict[str, object]:
    cluster: PysyncobjCluster | None = None
    best: tuple[int, dict[str, Any]] | None = None
    failed: dict[str, object] | None = None
    try:
        ramp = Ramp(rates)
        for rate in ramp:
            if cluster is None:  # as ours: a step after a failed one on a fresh cluster
                cluster = PysyncobjCluster()
            step = cluster.offer(rate, seconds, size)
            ok = len(rates) == 1 or sustainable(
                step["committed"], step["offered"], step["committed_tps"], step["p50"], rate
            )
            ramp.result(rate, ok)
            if ok:
                best = (rate, step)
            else:
                share = step["committed"] / max(step["offered"], 1)
                offered = round(step["offered"] / seconds, 1)
                failed = failed_step(rate, offered, step["committed_tps"], share, step["p50"])
                cluster.close()
                cluster = None
    finally:
        if cluster is not None:
            cluster.close()
    if best is None:
        return {
            "nodes": PYSYNCOBJ_NODES,
            "tx_size": size,
            "error": "no rate was sustainable",
            "failed_step": failed,
        }
    rate, step = best
    return {
        "benchmark": "pysyncobj_max_sustainable_load",
        "nodes": PYSYNCOBJ_NODES,
        "tx_size": size,
        "rate": rate,
        "offered_tx_per_s": round(step["offered"] / seconds, 1),
        "committed_tx_per_s": step["committed_tps"],
        "latency_p50_ms": step["p50"],
        "latency_p99_ms": step["p99"],
        "failed": step["failed"],
        "cpu_s_per_1k_tx": round(1000 * step["cpu_s"] / step["committed"], 3)
        if step["committed"]
        else None,
        "node_rss_mb_max": step["rss"],
        "failed_step": failed,
        "load": "in each process (as pysyncobj's own benchmarks do): its CPU is in cpu_s_per_1k_tx",
    }


def compare(args: argparse.Namespace, rates: tuple[int, ...]) -> dict[str, object]:
    runs = []
    for _ in range(args.runs):
        ours = bench(4, args.size, args.seconds, rates, clients=args.clients)
        theirs = bench_pysyncobj(args.size, args.seconds, rates)
        runs.append({"ours": ours, "pysyncobj": theirs})
    return {
        "benchmark": "compare_pysyncobj",
        "nodes": 4,
        "tx_size": args.size,
        "seconds_per_rate": args.seconds,
        "runs": runs,
        **summarize(runs),
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--nodes", type=int, nargs="+", default=[4, 7], help="cluster sizes (not with --compare)"
    )
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=int, help="offer this one rate instead of the ramp")
    parser.add_argument(
        "--rates",
        type=_rates,
        help="comma-separated ladder of rates instead of 1000, 2000, 4000, ... (e.g. 500,1000)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="SPEC.toml",
        help="benchmark the cluster this spec describes instead of --nodes; with a [network] "
        "table, over its emulated WAN and again on loopback (e.g. configs/wan-7.toml)",
    )
    parser.add_argument(
        "--clients", type=int, default=1, help="load generator processes (default 1)"
    )
    parser.add_argument("--crash-one", action="store_true", help="kill n1 before the load")
    parser.add_argument(
        "--encrypted",
        action="store_true",
        help="deal a threshold key and encrypt every payload to it (private sequencing)",
    )
    parser.add_argument(
        "--reputation-window",
        type=int,
        default=ChainParams().reputation_window,
        help="heights a failed proposer is skipped (0: reputation off)",
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="D",
        help="write run plots to D/NAME-K, one per cluster the ramp used",
    )
    parser.add_argument(
        "--compare",
        choices=["pysyncobj"],
        help="alternate 4 of our nodes with a 4-process pysyncobj cluster, --runs times",
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="alternations with --compare (default 3)"
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.size <= 0 or args.runs < 1 or (args.rate or 1) <= 0:
        parser.error("--seconds, --size, --rate and --runs must be positive")
    if args.rate and args.rates:
        parser.error("give --rate or --rates, not both")
    if args.compare and args.config:
        parser.error("--compare runs its own 4 nodes; --config does not apply")
    if args.config:
        try:
            args.spec = load_cluster_spec(args.config)
        except ConfigError as exc:
            parser.error(str(exc))
    if args.compare and args.crash_one:
        parser.error("--compare runs 4 nodes without faults; --crash-one does not apply")
    if args.compare and args.encrypted:
        parser.error("--compare measures plaintext against pysyncobj; --encrypted does not apply")
    return args


def _rates(text: str) -> tuple[int, ...]:
    try:
        rates = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list") from None
    if not rates or min(rates) <= 0:
        raise argparse.ArgumentTypeError(f"rates must be positive, got {text!r}")
    return rates


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        run(args)
    except ClusterError as exc:
        sys.exit(f"bench.py: {exc}")
    except Exception as exc:  # trio groups a task's error; no node answering the load is one
        cause = find_cause(exc, ApiError)
        if cause is None:
            raise
        sys.exit(f"bench.py: load stopped: {cause}")


def run(args: argparse.Namespace) -> None:
    rates = (args.rate,) if args.rate else args.rates or RATES
    if args.compare:
        print(json.dumps(compare(args, rates)), flush=True)
        return
    if args.config:
        spec = replace(args.spec, private=args.spec.private or args.encrypted)
        if spec.network is not None:
            result = wan_and_lan(spec, args, rates)
        else:
            result = bench_spec(spec, args, rates)
        print(json.dumps(result), flush=True)
        return
    for nodes in args.nodes:
        result = bench(
            nodes,
            args.size,
            args.seconds,
            rates,
            args.crash_one,
            args.reputation_window,
            args.clients,
            report_dir=args.report,
            encrypted=args.encrypted,
        )
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
