"""Demo: an equivocating sequencer is caught, slashed and jailed, with real node processes.

Starts the cluster of configs/byzantine-4.toml (n1 signs two conflicting messages for every
proposal and vote) in the background, waits until every honest node has committed evidence
against every node that equivocates, then shows what anyone can check: `evidence list`,
`evidence show` of the first record, `evidence verify` of one honest node's log (offline,
against genesis), `validators` (the new stakes, who is jailed) and `cluster status` after
more heights, to show the chain still commits. Each command is printed before it runs, so it
can be repeated by hand. The cluster is stopped at the end, also on an error or Ctrl-C.

    python scripts/byzantine_demo.py [--config configs/byzantine-7-weighted.toml] [--dir D]
                                     [--timeout 60] [--heights 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import trio

from sequencer_net.cluster.layout import Layout
from sequencer_net.cluster.probe import probe
from sequencer_net.config import ConfigError, SpecError, load_cluster_spec, load_genesis
from sequencer_net.evidence_log import FILENAME, EvidenceLogError, read_log, shown_id

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "byzantine-4.toml"
SIGNS_TWICE = frozenset({"equivocate", "amnesia"})  # behaviours that leave evidence


class DemoError(Exception):
    """A step that did not turn out as the demo expects; the message says what to look at."""


def shown(path: Path) -> str:
    """``path`` relative to the working directory when inside it: shorter commands to copy."""
    relative = os.path.relpath(path.absolute())
    return path.as_posix() if relative.startswith("..") else relative


class Demo:
    """Runs `sequencer-net` commands as a user would, echoing each one first. With ``json``,
    commands print JSON, which is collected into :attr:`summary`; progress goes to stderr."""

    def __init__(self, json_mode: bool) -> None:
        self.json = json_mode
        self.out: TextIO = sys.stderr if json_mode else sys.stdout
        self.summary: dict[str, Any] = {}

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def cli(self, *argv: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
        """Print `sequencer-net ARGV`, then run it with this interpreter. With ``capture``
        its standard output is returned rather than shown."""
        self.say(f"\n$ sequencer-net {shlex.join(argv)}")
        return subprocess.run(
            [sys.executable, "-m", "sequencer_net", *argv],
            stdout=subprocess.PIPE if capture else self.out,
            text=True,
            check=False,
        )

    def show(self, key: str, *argv: str) -> int:
        """Run a reading command: its table, or with ``json`` its JSON under ``key``."""
        if not self.json:
            return self.cli(*argv).returncode
        done = self.cli(*argv, "--json", capture=True)
        if done.stdout.strip():
            self.summary[key] = json.loads(done.stdout)
        return done.returncode


def start(
    demo: Demo, config: Path, directory: Path | None, allow_unsafe: bool, debug_log: bool
) -> tuple[Path | None, int]:
    """`cluster up CONFIG --detach`: the cluster dir it printed (None if it created none) and
    its exit status (1 if a node did not start: `up` then stopped the others itself).
    ``debug_log`` keeps the per-height `committed` lines, which give `report` each node's
    commit times."""
    argv = ["cluster", "up", shown(config), "--detach"]
    argv += ["--log-level", "debug"] if debug_log else []
    argv += ["--dir", shown(directory)] if directory else []
    argv += ["--allow-unsafe"] if allow_unsafe else []
    done = demo.cli(*argv, capture=True)
    printed = done.stdout.strip().splitlines()
    root = Path(printed[-1]) if printed else None
    if root is not None:
        demo.say(shown(root))
    return root, done.returncode


def roles(config: Path) -> tuple[list[str], list[str]]:
    """Node names of the spec that sign conflicting messages, and those with no fault."""
    spec = load_cluster_spec(config)
    behaviours = {n: {f.behaviour for f in spec.faults.get(n, ())} for n in spec.node_names}
    culprits = [n for n, given in behaviours.items() if given & SIGNS_TWICE]
    honest = [n for n, given in behaviours.items() if not given]
    if not culprits:
        raise DemoError(
            f"no node of {config} has a fault in {sorted(SIGNS_TWICE)}: nothing to catch"
        )
    if not honest:
        raise DemoError(f"every node of {config} has a fault: no honest node to ask")
    return culprits, honest


def offenders(root: Path, name: str) -> dict[str, dict[str, Any]]:
    """The records in node ``name``'s evidence log, by offender name (empty while none)."""
    try:
        records = read_log(Layout(root).data(name) / FILENAME)
    except EvidenceLogError:  # not written yet, or a line being written right now
        return {}
    return {r["offender"]["name"]: r for r in records}


def wait_for_evidence(
    demo: Demo, root: Path, culprits: list[str], honest: list[str], timeout: float
) -> list[dict[str, Any]]:
    """The first honest node's records, once every honest node has committed evidence
    against every culprit."""
    demo.say(f"\nwaiting for the honest nodes to commit evidence against {', '.join(culprits)}")
    deadline = time.monotonic() + timeout
    while True:
        logs = [offenders(root, name) for name in honest]
        if all(set(culprits) <= set(log) for log in logs):
            return sorted(logs[0].values(), key=lambda r: r["committed_height"])
        if time.monotonic() > deadline:
            missing = sorted({c for log in logs for c in culprits if c not in log})
            raise DemoError(
                f"no evidence against {', '.join(missing)} committed within {timeout:g} s; "
                f"look for evidence_found and slashed in {shown(root)}/nK/data/node.log"
            )
        time.sleep(0.2)


def height(address: str) -> int:
    """The last height the node at ``address`` committed."""
    status = trio.run(probe, address, 2.0)
    if status is None:
        raise DemoError(f"the node at {address} does not answer")
    return status["height"]


def wait_for_heights(address: str, target: int, timeout: float) -> int:
    """The node's height once it reaches ``target``; DemoError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while (current := height(address)) < target:
        if time.monotonic() > deadline:
            raise DemoError(f"the chain stopped at height {current}, short of {target}")
        time.sleep(0.2)
    return current


def story(
    demo: Demo,
    root: Path,
    culprits: list[str],
    honest: list[str],
    args: argparse.Namespace,
    started: float,
) -> None:
    """Everything between `cluster up` (run at ``started``, monotonic) and `cluster down`."""
    witness = honest[0]
    records = wait_for_evidence(demo, root, culprits, honest, args.timeout)
    caught_s = round(time.monotonic() - started, 1)
    wrongly = sorted({r["offender"]["name"] for r in records} - set(culprits))
    if wrongly:
        raise DemoError(f"{', '.join(wrongly)} slashed without equivocating: a bug, report it")
    for r in records:
        demo.say(
            f"{r['offender']['name']}: {r['kind']} at height {r['height']}, committed at "
            f"height {r['committed_height']}, stake {r['stake_before']} -> {r['stake_after']}"
        )
    demo.say(f"caught {caught_s} s after `cluster up` (node start-up included)")
    demo.summary.update(dir=str(root), culprits=culprits, honest=honest, caught_after_s=caught_s)

    directory = shown(root)
    demo.show("evidence", "evidence", "list", "--dir", directory)
    demo.show("first_record", "evidence", "show", shown_id(records[0]["id"]), "--dir", directory)
    log = shown(Layout(root).data(witness) / FILENAME)
    genesis = shown(Layout(root).genesis)
    if demo.show("verify", "evidence", "verify", log, "--genesis", genesis) != 0:
        raise DemoError(f"{log} does not verify against {genesis}")
    demo.show("validators", "validators", "--node", witness, "--dir", directory)

    address = load_genesis(Layout(root).genesis).addresses[witness].client
    before = height(address)
    demo.say(f"\n{witness} is at height {before}; waiting for {args.heights} more heights")
    after = wait_for_heights(address, before + args.heights, args.timeout)
    demo.say(f"{witness} went on committing after the slash: height {before} -> {after}")
    demo.show("status", "cluster", "status", directory)
    demo.summary.update(height_before=before, height_after=after)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=CONFIG, help="cluster spec (byzantine-4)")
    parser.add_argument("--dir", type=Path, help="cluster dir to create (default runs/NAME)")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for each step (60)"
    )
    parser.add_argument(
        "--heights", type=int, default=10, help="heights to see committed after the slash (10)"
    )
    parser.add_argument(
        "--allow-unsafe", action="store_true", help="start a config with >= 1/3 faulty stake"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON summary at the end")
    parser.add_argument(
        "--report",
        type=Path,
        metavar="D",
        help="after the run, write `sequencer-net report` plots and index.html to D",
    )
    args = parser.parse_args()
    if args.timeout <= 0 or args.heights < 1:
        parser.error("--timeout and --heights must be positive")
    demo = Demo(args.json)
    demo.summary["config"] = str(args.config)
    root: Path | None = None
    try:
        culprits, honest = roles(args.config)
        started = time.monotonic()
        root, status = start(
            demo, args.config, args.dir, args.allow_unsafe, args.report is not None
        )
        if root is None or status != 0:
            raise DemoError(f"`cluster up` failed (exit {status}), see above")
        story(demo, root, culprits, honest, args, started)
    except KeyboardInterrupt:
        demo.say("interrupted")
        return 130
    except (DemoError, ConfigError, SpecError) as exc:
        demo.say(f"byzantine_demo: error: {exc}")
        return 1
    finally:
        if root is not None:
            demo.cli("cluster", "down", shown(root))
    no_report = args.report is None or root is None
    if not no_report and demo.show("report", "report", shown(root), "--out", str(args.report)):
        demo.say("byzantine_demo: error: the report could not be written, see above")
        return 1
    if args.json:
        print(json.dumps(demo.summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
