"""Demo: three rollups share one sequencer set, one floods, one is censored, bundles span two.

Starts the cluster of configs/shared-3-rollups.toml (four validators; n4 censors rollup-c;
batches of 50 transactions, 40/30/30 % shares) and runs two phases on it: *idle*, rollup-b and
rollup-c at --rate transactions a second each, and *flood*, the same plus rollup-a at
--flood-factor times that rate (well above what the batches hold) and --bundles atomic bundles
of one rollup-a and one rollup-b transaction. It prints each namespace's inclusion delay
(submit to commit, client view) per phase, checks that every bundle committed in one batch,
contiguous and in order (or not at all), writes a namespace proof of rollup-b at a bundle's
height, verifies it offline against genesis with `sequencer-net namespace verify`, and shows a
tampered copy failing. Then it runs the same phases with fair shares off (the spec without
its namespace registry: batches fill in arrival order) for comparison. Every node it starts
is stopped again, also on an error or Ctrl-C.

    python scripts/shared_demo.py [--rate 200] [--flood-factor 10] [--seconds 6]
                                  [--bundles 20] [--dir runs/shared-demo] [--json]

Exit 0 when the fair-shares run kept its promises: every acknowledged transaction and bundle
committed, no bundle split, the proof verified and the tampered one failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w
import trio
from rich.console import Console
from rich.table import Table

from sequencer_net import codec
from sequencer_net.api_protocol import BUSY, ApiError
from sequencer_net.client import Client
from sequencer_net.cluster.control import Cluster
from sequencer_net.cluster.init import init_cluster
from sequencer_net.cluster.probe import probe
from sequencer_net.commands.errors import script_problem
from sequencer_net.config import load_cluster_spec
from sequencer_net.nsproof import NamespaceProof
from sequencer_net.percentiles import summary
from sequencer_net.types import Tx

SPEC = Path(__file__).resolve().parent.parent / "configs" / "shared-3-rollups.toml"
FLOOD, QUIET = "rollup-a", ("rollup-b", "rollup-c")
NAMESPACES = (FLOOD, *QUIET)
TICK_S = 0.05  # each namespace's submitter sends one bulk request per tick
STARTUP_S = 30.0
DRAIN_S = 30.0


@dataclass
class Sent:
    namespace: str
    at: float
    bundled: bool = False  # part of a bundle: counted in the bundles' line, not the namespace
    committed_at: float | None = None
    height: int | None = None
    position: int | None = None


@dataclass
class Phase:
    """One phase's transactions and bundles, as the client saw them."""

    name: str
    sent: dict[bytes, Sent] = field(default_factory=dict)
    busy: dict[str, int] = field(default_factory=dict)  # "busy" answers per namespace
    bundles: list[tuple[bytes, ...]] = field(default_factory=list)

    def latency(self) -> dict[str, dict[str, Any]]:
        table = {}
        for ns in NAMESPACES:
            txs = [s for s in self.sent.values() if s.namespace == ns and not s.bundled]
            done = [1000 * (s.committed_at - s.at) for s in txs if s.committed_at is not None]
            if txs:
                table[ns] = {
                    "submitted": len(txs),
                    "committed": len(done),
                    "busy": self.busy.get(ns, 0),
                    "ms": summary(done),
                }
        return table

    def bundle_latency(self) -> dict[str, float | None]:
        """Submit to commit of each bundle (its last transaction), ms."""
        done = []
        for ids in self.bundles:
            times = [self.sent[t].committed_at for t in ids]
            if all(t is not None for t in times):
                done.append(1000 * (max(t for t in times if t is not None) - self.sent[ids[0]].at))
        return summary(done)

    def bundle_verdicts(self) -> dict[str, int]:
        """Bundles committed whole (one height, contiguous, in order), not at all, or split."""
        verdict = {"whole": 0, "not_committed": 0, "split": 0}
        for ids in self.bundles:
            places = [(self.sent[t].height, self.sent[t].position) for t in ids]
            if all(h is None for h, _ in places):
                verdict["not_committed"] += 1
                continue
            height, first = places[0]
            whole = first is not None and places == [
                (height, first + i) for i in range(len(places))
            ]
            verdict["whole" if whole else "split"] += 1
        return verdict


@dataclass
class Run:
    mode: str
    phases: list[Phase] = field(default_factory=list)
    proof: dict[str, Any] | None = None
    censorship: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "phases": {
                p.name: {
                    "namespaces": p.latency(),
                    "bundles": p.bundle_verdicts(),
                    "bundle_ms": p.bundle_latency(),
                }
                for p in self.phases
            },
            "proof": self.proof,
            "censorship_namespaces": self.censorship,
        }


# ---- one cluster -----------------------------------------------------------------------------


@contextmanager
def running(spec: Path, root: Path) -> Iterator[Cluster]:
    cluster = Cluster(init_cluster(load_cluster_spec(spec), root))
    cluster.up()
    try:
        yield cluster
    finally:
        cluster.down()


def without_registry(source: Path, target: Path) -> Path:
    """The spec with fair shares off: no [[namespaces]] (every namespace admitted, batches
    filled in arrival order); comments are not kept."""
    document = tomllib.loads(source.read_text())
    document.pop("namespaces", None)
    document["cluster"]["name"] = document["cluster"]["name"] + "-no-shares"
    target.write_text(tomli_w.dumps(document))
    return target


async def wait_until_committing(address: str) -> None:
    with trio.fail_after(STARTUP_S):
        while (status := await probe(address)) is None or status["height"] < 2:
            await trio.sleep(0.2)


async def run_phase(
    addresses: list[str], phase: Phase, rates: dict[str, float], seconds: float, bundles: int
) -> None:
    """Offer each namespace its rate (bulk requests every tick, to the honest nodes in turn)
    and the bundles, follow the commits, then wait for everything acknowledged to commit."""
    tag = os.urandom(4).hex()
    watcher, lookup = await Client.connect(addresses[0]), await Client.connect(addresses[0])
    clients = [await Client.connect(a) for a in addresses]
    followed = (await lookup.status())["height"]

    async def follow(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        nonlocal followed
        stream = watcher.commits()
        task_status.started()
        async for event in stream:
            now = trio.current_time()
            for h in range(followed + 1, event["height"] + 1):  # events may be lost: look up
                batch = await lookup.batch(h)
                for position, txid in enumerate(batch["tx_ids"] if batch else ()):
                    sent = phase.sent.get(txid)
                    if sent is not None and sent.committed_at is None:
                        sent.committed_at, sent.height, sent.position = now, h, position
            followed = max(followed, event["height"])

    async def offer(ns: str, rate: float, client: Client) -> None:
        start, n, tick = trio.current_time(), 0, 0
        while (elapsed := trio.current_time() - start) < seconds:
            due = int(rate * elapsed) - n
            txs = [Tx(ns, "demo", f"{tag}-{ns}-{n + i}".encode()) for i in range(due)]
            n += due
            now = trio.current_time()
            for tx in txs:
                phase.sent[tx.id] = Sent(ns, now)
            for tx, result in zip(txs, await client.submit_many(txs) if txs else [], strict=True):
                if result.txid is None:
                    del phase.sent[tx.id]
                    if result.error == BUSY:
                        phase.busy[ns] = phase.busy.get(ns, 0) + 1
            tick += 1
            await trio.sleep_until(start + tick * TICK_S)

    async def offer_bundles(client: Client) -> None:
        for i in range(bundles):
            await trio.sleep(seconds / max(1, bundles))
            txs = [Tx(FLOOD, "bundler", f"{tag}-bundle-{i}-a".encode())]
            txs.append(Tx("rollup-b", "bundler", f"{tag}-bundle-{i}-b".encode()))
            now = trio.current_time()
            try:
                ids = await client.submit_bundle(txs)
            except ApiError:
                continue  # refused whole (busy): nothing of it was kept
            for tx in txs:
                phase.sent[tx.id] = Sent(tx.namespace, now, bundled=True)
            phase.bundles.append(ids)

    def outstanding() -> int:
        return sum(1 for s in phase.sent.values() if s.committed_at is None)

    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(follow)
            async with trio.open_nursery() as load:
                for i, (ns, rate) in enumerate(rates.items()):
                    load.start_soon(offer, ns, rate, clients[i % len(clients)])
                if bundles:
                    load.start_soon(offer_bundles, clients[-1])
            with trio.move_on_after(DRAIN_S):
                while outstanding():
                    await trio.sleep(0.1)
            nursery.cancel_scope.cancel()
    finally:
        for client in [watcher, lookup, *clients]:
            await client.aclose()


def run_mode(spec: Path, mode: str, work: Path, args: argparse.Namespace, console: Console) -> Run:
    run = Run(mode)
    cluster_spec = load_cluster_spec(spec)
    honest = [n for n in cluster_spec.node_names if not cluster_spec.faults.get(n)]
    with running(spec, work / mode) as cluster:
        addresses = [cluster.genesis.addresses[n].client for n in honest]
        trio.run(wait_until_committing, addresses[0])
        quiet = {ns: args.rate for ns in QUIET}
        for name, rates, bundles in (
            ("idle", quiet, 0),
            ("flood", {FLOOD: args.rate * args.flood_factor, **quiet}, args.bundles),
        ):
            console.print(
                f"[{mode}] phase {name}: {', '.join(f'{n} {r:g}/s' for n, r in rates.items())}"
            )
            phase = Phase(name)
            trio.run(run_phase, addresses, phase, rates, args.seconds, bundles)
            run.phases.append(phase)
        if mode == "fair-shares":
            run.proof = prove(cluster.root, run.phases[-1], work, console)
        run.censorship = censorship_namespaces(cluster.root, honest)
    return run


def censorship_namespaces(root: Path, honest: list[str]) -> dict[str, Any] | None:
    """The per-namespace part of one honest node's censorship metrics."""
    answer = sequencer_net(["status", "--json", "--dir", str(root), "--node", honest[0]])
    try:
        status = json.loads(answer.stdout)[honest[0]]
        return status["censorship"].get("namespaces") if status else None
    except (ValueError, KeyError, TypeError):
        return None


# ---- proofs ----------------------------------------------------------------------------------


def sequencer_net(argv: list[str], echo: Console | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "sequencer_net", *argv]
    if echo is not None:
        echo.print("$ sequencer-net " + " ".join(argv))
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def prove(root: Path, phase: Phase, work: Path, console: Console) -> dict[str, Any]:
    """rollup-b's proof at the first bundle's height: verified offline, then tampered."""
    heights = [phase.sent[ids[1]].height for ids in phase.bundles]
    height = next((h for h in heights if h is not None), None)
    if height is None:
        return {"error": "no bundle committed, so no height to prove"}
    proof_file, tampered_file = work / f"rollup-b-{height}.json", work / "tampered.json"
    genesis = str(root / "genesis.toml")
    shown = sequencer_net(
        [
            "namespace",
            "show",
            "rollup-b",
            str(height),
            "--dir",
            str(root),
            "--proof",
            str(proof_file),
        ],
        console,
    )
    verified = sequencer_net(
        ["namespace", "verify", str(proof_file), "--genesis", genesis], console
    )
    console.print(verified.stdout.strip() or verified.stderr.strip())
    document = json.loads(proof_file.read_text())
    raw = bytes.fromhex(document["proof"])
    proof: NamespaceProof = codec.decode(raw, NamespaceProof)
    victim = proof.groups[0][0]  # one of rollup-b's transactions: flip its last payload byte
    at = raw.index(victim) + len(victim) - 1
    document["proof"] = (raw[:at] + bytes([raw[at] ^ 1]) + raw[at + 1 :]).hex()
    tampered_file.write_text(json.dumps(document))
    console.print("tampered copy: one payload byte of one rollup-b transaction flipped")
    tampered = sequencer_net(
        ["namespace", "verify", str(tampered_file), "--genesis", genesis], console
    )
    console.print(
        (tampered.stdout.strip() or tampered.stderr.strip()) + f"   (exit {tampered.returncode})"
    )
    return {
        "height": height,
        "show_exit": shown.returncode,
        "verify_exit": verified.returncode,
        "tampered_exit": tampered.returncode,
        "tampered_says": (tampered.stdout.strip() or tampered.stderr.strip())[:200],
    }


# ---- output ----------------------------------------------------------------------------------


def _ms(stats: dict[str, float | None]) -> str:
    return " / ".join("-" if stats[p] is None else f"{stats[p]:.0f}" for p in ("p50", "p99", "max"))


def print_runs(console: Console, runs: list[Run]) -> None:
    table = Table(title="inclusion delay per namespace, submit to commit (client view)")
    for column in (
        "run",
        "phase",
        "namespace",
        "committed",
        "busy",
        "ms p50/p99/max",
        "p99 vs idle",
    ):
        table.add_column(column)
    for run in runs:
        idle = {ns: v["ms"]["p99"] for ns, v in run.phases[0].latency().items()}
        for phase in run.phases:
            for ns, v in phase.latency().items():
                base, p99 = idle.get(ns), v["ms"]["p99"]
                ratio = (
                    f"{p99 / base:.2f}x"
                    if base and p99 is not None and phase.name != "idle"
                    else ""
                )
                committed = f"{v['committed']} of {v['submitted']}"
                table.add_row(
                    run.mode, phase.name, ns, committed, str(v["busy"]), _ms(v["ms"]), ratio
                )
        table.add_section()
    console.print(table)
    for run in runs:
        verdict = run.phases[-1].bundle_verdicts()
        console.print(
            f"[{run.mode}] bundles (rollup-a + rollup-b): {verdict['whole']} whole in one batch, "
            f"{verdict['not_committed']} not committed, {verdict['split']} split; "
            f"ms p50/p99/max {_ms(run.phases[-1].bundle_latency())}"
        )
        if run.censorship:
            omitted = {ns: f["omitted"] for ns, f in run.censorship.items()}
            console.print(
                f"[{run.mode}] proposals seen omitting an overdue chunk, per namespace: {omitted}"
            )


def kept_promises(run: Run) -> bool:
    phases_done = all(
        v["committed"] == v["submitted"] for p in run.phases for v in p.latency().values()
    )
    proof = run.proof or {}
    proofs_ok = proof.get("verify_exit") == 0 and proof.get("tampered_exit") == 1
    return phases_done and run.phases[-1].bundle_verdicts()["split"] == 0 and proofs_ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="tx/s of each quiet rollup (200)")
    parser.add_argument(
        "--flood-factor", type=float, default=10.0, help="rollup-a's rate / --rate (10)"
    )
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds of load per phase (6)")
    parser.add_argument("--bundles", type=int, default=20, help="bundles in the flood phase (20)")
    parser.add_argument("--spec", type=Path, default=SPEC, help="cluster spec (shared-3-rollups)")
    parser.add_argument("--dir", type=Path, help="keep the clusters here (default: a temp dir)")
    parser.add_argument("--no-compare", action="store_true", help="skip the run without shares")
    parser.add_argument("--json", action="store_true", help="print one JSON summary instead")
    args = parser.parse_args()
    if args.rate <= 0 or args.flood_factor <= 0 or args.seconds <= 0 or args.bundles < 0:
        parser.error("--rate, --flood-factor and --seconds must be positive, --bundles >= 0")
    console = Console(markup=False, stderr=args.json, highlight=False, width=110)
    runs: list[Run] = []
    where = (
        nullcontext(str(args.dir))
        if args.dir
        else tempfile.TemporaryDirectory(prefix="shared-demo-")
    )
    try:
        with where as work:
            work_dir = Path(work)
            work_dir.mkdir(parents=True, exist_ok=True)
            runs.append(run_mode(args.spec, "fair-shares", work_dir, args, console))
            if not args.no_compare:
                plain = without_registry(args.spec, work_dir / "no-shares.toml")
                runs.append(run_mode(plain, "no-shares", work_dir, args, console))
    except KeyboardInterrupt:
        print("interrupted (every node stopped)", file=sys.stderr)
        return 130
    except Exception as exc:
        problem = script_problem(exc, STARTUP_S)
        if problem is None:
            raise
        print(f"shared_demo: error: {problem}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"spec": str(args.spec), "runs": [r.to_json() for r in runs]}))
    else:
        print_runs(console, runs)
    return 0 if kept_promises(runs[0]) else 1


if __name__ == "__main__":
    sys.exit(main())
