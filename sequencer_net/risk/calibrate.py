"""`risk calibrate DIR`: measure the model's protocol-side numbers from a cluster run's node
logs, so they are measured rather than assumed, and say which ones the run could measure.

- recovery_s: after a node restarts (a second ``node_started`` in its log), the time until
  it commits a height no other node had committed when it started: the catch-up a returning
  node needs before it counts toward a quorum again;
- block_time_s: the median time between consecutive round-0 commits;
- rounds lost per outage of a proposer: the rounds beyond round 0 the chain needed while a
  node was down (the model derives them from reputation_window; this checks it);
- round_timeout_s: the extra time a height that needed rounds beyond 0 took, per round;
- halt durations: ``commit_resumed`` records' ``stalled_ms`` (after a partition heals);
- forced inclusions: ``inclusion_enforced`` records;
- inclusion delay: the largest p99 of the inclusion delays the nodes measured
  (data/censorship.json), a check of the model's censored-transaction delay."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..commands.errors import UsageError
from .runlog import NodeLog, read_run

NO_COMMITS = (
    "the node logs hold no per-height `committed` records: nodes write them only at log "
    "level debug. Run the cluster with `sequencer-net cluster up --log-level debug` (or "
    'log_level = "debug" in every NAME/node.toml) and calibrate that run'
)


@dataclass(frozen=True)
class Restart:
    node: str
    down_from: float  # its last record before the restart: when it was killed or crashed
    started: float
    first_commit_s: float | None
    caught_up_s: float | None


def restarts(logs: dict[str, NodeLog]) -> list[Restart]:
    found = []
    for log in logs.values():
        starts = log.events("node_started")
        for start in starts[1:]:
            before = [r for r in log.records if r["t"] < start["t"]]
            tip = max(
                (
                    r["height"]
                    for other in logs.values()
                    if other is not log
                    for r in other.events("committed")
                    if r["t"] <= start["t"]
                ),
                default=0,
            )
            after = [r for r in log.events("committed") if r["t"] >= start["t"]]
            first = after[0]["t"] - start["t"] if after else None
            ahead = [r for r in after if r["height"] > tip]
            caught = ahead[0]["t"] - start["t"] if ahead else None
            down_from = before[-1]["t"] if before else start["t"]
            found.append(Restart(log.name, down_from, start["t"], first, caught))
    return sorted(found, key=lambda r: r.started)


def genesis_view(directory: Path) -> tuple[dict[str, float], int] | None:
    """Each validator's stake share and the reputation window, from DIR/genesis.toml; None
    when the run has none that loads (calibration then skips the model's prediction)."""
    from ..config import load_genesis
    from ..config.schema import ConfigError

    path = directory / "genesis.toml"
    if not path.is_file():
        return None
    try:
        genesis = load_genesis(path).genesis
    except (ConfigError, OSError, ValueError):
        return None
    total = sum(v.power for v in genesis.validators)
    shares = {v.name: v.power / total for v in genesis.validators}
    return shares, genesis.params.reputation_window


def predicted_rounds(down_s: float, share: float, window: int, block_time_s: float) -> float:
    """The model's failed rounds for a proposer down ``down_s`` seconds."""
    import numpy as np

    from .model import failed_turns

    heights = np.array([down_s / block_time_s])
    turns = failed_turns(heights, share, window) if window > 0 else heights * share
    return float(turns[0])


def _reference(logs: dict[str, NodeLog]) -> NodeLog:
    """The node that committed the most heights among those that never restarted: up for
    (nearly) the whole run. A restarted node catches up on every height it missed, so it can
    count as many commits, but none of them in its outage, which is what is measured there."""
    steady = [log for log in logs.values() if len(log.events("node_started")) <= 1]
    return max(steady or logs.values(), key=lambda log: len(log.events("committed")))


def calibrate(
    logs: dict[str, NodeLog], chain: tuple[dict[str, float], int] | None = None
) -> dict[str, Any]:
    """Every parameter: its value (None when the run could not show it) and where it came
    from. With ``chain`` (stake shares and reputation window) each restart also carries the
    rounds the model predicts its outage lost, beside what the run shows."""
    if not any(log.events("committed") for log in logs.values()):
        raise UsageError(NO_COMMITS)
    ref = _reference(logs)
    commits = {r["height"]: r for r in ref.events("committed")}
    heights = sorted(commits)
    gaps = [
        (commits[h]["t"] - commits[h - 1]["t"], commits[h]["round"])
        for h in heights
        if h - 1 in commits
    ]
    plain = [gap for gap, rnd in gaps if rnd == 0]
    block_time = statistics.median(plain) if plain else None
    slow = [(gap - block_time) / rnd for gap, rnd in gaps if rnd > 0 and block_time is not None]
    back = restarts(logs)
    caught = [r.caught_up_s for r in back if r.caught_up_s is not None]
    lost = [
        sum(c["round"] for c in commits.values() if r.down_from <= c["t"] <= r.started)
        for r in back
    ]
    stalls = [r["stalled_ms"] / 1000 for log in logs.values() for r in log.events("commit_resumed")]
    enforced = sum(len(log.events("inclusion_enforced")) for log in logs.values())
    delays = [d for log in logs.values() if (d := _delay_p99_s(log)) is not None]

    def param(value: float | None, how: str, default_note: str) -> dict[str, Any]:
        if value is None:
            return {"value": None, "measured": False, "source": default_note}
        return {"value": round(value, 3), "measured": True, "source": how}

    return {
        "nodes": sorted(logs),
        "reference_node": ref.name,
        "heights": len(heights),
        "unreadable_lines": sum(log.unreadable for log in logs.values()),
        "restarts": [
            {
                "node": r.node,
                "down_s": round(r.started - r.down_from, 3),
                "first_commit_s": r.first_commit_s,
                "caught_up_s": r.caught_up_s,
                "rounds_lost": lost_here,
                "model_rounds_lost": None
                if chain is None or block_time is None or r.node not in chain[0]
                else round(
                    predicted_rounds(
                        r.started - r.down_from, chain[0][r.node], chain[1], block_time
                    ),
                    1,
                ),
            }
            for r, lost_here in zip(back, lost, strict=True)
        ],
        "parameters": {
            "recovery_s": param(
                statistics.median(caught) if caught else None,
                f"median catch-up of {len(caught)} restart(s): node_started to its first "
                "commit of a height nobody had when it started",
                "no node restarted in this run: keep the scenario's value",
            ),
            "block_time_s": param(
                block_time,
                f"median of {len(plain)} round-0 commit intervals on {ref.name}",
                "no consecutive round-0 commits",
            ),
            "round_timeout_s": param(
                statistics.median(slow) if slow else None,
                f"median extra time per round of {len(slow)} heights that needed round > 0",
                "no height needed a second round",
            ),
            "rounds_lost_per_outage": param(
                statistics.median(lost) if back else None,
                f"median rounds beyond round 0 on {ref.name} while a node was down "
                f"({len(back)} outage(s))",
                "no node went down and came back",
            ),
            "halt_s": param(
                statistics.median(stalls) if stalls else None,
                f"median stalled_ms of {len(stalls)} commit_resumed record(s)",
                "the chain never stalled long enough to log a stall",
            ),
            "forced_inclusions": param(
                float(enforced) if enforced else None,
                "inclusion_enforced records across the nodes",
                "no forced inclusion happened",
            ),
            "inclusion_delay_p99_s": param(
                max(delays) if delays else None,
                f"largest p99 inclusion delay in {len(delays)} node(s)' censorship.json",
                "no node measured an inclusion delay (no transactions, or no censorship.json)",
            ),
        },
    }


def _delay_p99_s(log: NodeLog) -> float | None:
    try:
        delay = log.censorship["inclusion_delay"]  # type: ignore[index]
        return float(delay["ms"]["p99"]) / 1000 if delay["count"] > 0 else None
    except (KeyError, TypeError, ValueError):
        return None


def measured_protocol(directory: Path) -> dict[str, float]:
    """The protocol numbers ``directory``'s run measured, by [protocol] key."""
    found = calibrate(read_run(directory), genesis_view(directory))["parameters"]
    return {k: found[k]["value"] for k in PROTOCOL_KEYS if found[k]["measured"]}


def run_calibrate(directory: Path, as_json: bool) -> int:
    found = calibrate(read_run(directory), genesis_view(directory))
    if as_json:
        print(json.dumps(found))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{directory}: {len(found['nodes'])} nodes, {found['heights']} heights on "
        f"{found['reference_node']}"
    )
    for column in ("parameter", "value", "measured", "source"):
        table.add_column(column)
    for name, p in found["parameters"].items():
        value = "-" if p["value"] is None else f"{p['value']:g}"
        table.add_row(name, value, "yes" if p["measured"] else "no", p["source"])
    console = Console(markup=False, width=160)
    console.print(table)
    for r in found["restarts"]:
        console.print(
            f"restart of {r['node']}: down {r['down_s']:.2f} s, first commit after "
            f"{_seconds(r['first_commit_s'])}, caught up after {_seconds(r['caught_up_s'])}; "
            f"{r['rounds_lost']} rounds lost"
            + (
                ""
                if r["model_rounds_lost"] is None
                else f" (the model predicts {r['model_rounds_lost']:g})"
            )
        )
    measured = {k: p["value"] for k, p in found["parameters"].items() if p["measured"]}
    usable = {k: v for k, v in measured.items() if k in PROTOCOL_KEYS}
    if usable:
        console.print("for the scenario's [protocol] table (measured values only):")
        for key, value in usable.items():
            print(f"{key} = {value}")
    return 0


PROTOCOL_KEYS = ("recovery_s", "block_time_s", "round_timeout_s")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"
