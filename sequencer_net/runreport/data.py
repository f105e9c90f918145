"""The numbers of a run report, computed apart from the drawing (pure: a :class:`Run` in, a
JSON-able dict out), so a test can check what reaches matplotlib against the recorded run.

Times are seconds since the run's first record. When a height was committed is the earliest
``committed`` log line any node wrote for it; with none (a log level that drops them), the
batch's own timestamp stands in, and ``commit_times`` says so. Commit latency is the batch
timestamp (when its proposer built it) to that first commit; without commit lines, the
interval between consecutive batch timestamps is shown instead, and named so.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from ..percentiles import summary
from ..risk.runlog import NodeLog
from .record import Height, Run

MAX_POINTS = 20_000  # per plotted series; longer ones are thinned evenly, the last point kept
MAX_EVENTS = 2_000  # events marked; evidence beyond it is counted, not marked
THROUGHPUT_BIN_S = 1.0


def report_data(run: Run) -> dict[str, Any]:
    """Everything the plots and the page show."""
    commits = _first_commits(run.logs.values())
    chain_t = {h.height: h.timestamp_ms / 1000 for h in run.chain}
    starts = [r["t"] for log in run.logs.values() for r in log.records[:1]]
    t0 = min([*starts, *chain_t.values()], default=0.0)
    from_logs = bool(commits)
    commit_t = {h.height: commits.get(h.height, chain_t[h.height]) for h in run.chain}
    events, evidence = _events(run, commit_t, t0)
    data = {
        "t0": t0,
        "commit_times": "log" if from_logs else "batch timestamps",
        "heights": _heights(run, t0, from_logs),
        "events": events,
        "latency": _latency(run.chain, commits, t0) if from_logs else _intervals(run.chain, t0),
        "throughput": _throughput(run.chain, commit_t, t0),
        "rounds": {
            "heights": _thin([h.height for h in run.chain]),
            "rounds": _thin([h.round + 1 for h in run.chain]),
        },
        "inclusion": _inclusion(run, commit_t),
    }
    data["summary"] = _summary(run, data, commit_t, evidence)
    return data


def _first_commits(logs: Iterable[NodeLog]) -> dict[int, float]:
    first: dict[int, float] = {}
    for log in logs:
        for r in log.events("committed"):
            height = r.get("height")
            if isinstance(height, int) and (height not in first or r["t"] < first[height]):
                first[height] = r["t"]
    return first


def _heights(run: Run, t0: float, from_logs: bool) -> dict[str, dict[str, list[float]]]:
    """Per node, (time, height) at each commit it logged; without commit lines, the chain's
    heights up to what that node stored, at their batch timestamps."""
    out = {}
    for name, log in sorted(run.logs.items()):
        if from_logs:
            points = [
                (r["t"] - t0, r["height"])
                for r in log.events("committed")
                if isinstance(r.get("height"), int)
            ]
        else:
            top = run.chain_heights.get(name, 0)
            points = [(h.timestamp_ms / 1000 - t0, h.height) for h in run.chain if h.height <= top]
        out[name] = {"t": _thin([p[0] for p in points]), "h": _thin([p[1] for p in points])}
    return out


def _events(run: Run, commit_t: dict[int, float], t0: float) -> tuple[list[dict[str, Any]], int]:
    """What the heights plot marks: faults, partitions, kills, restarts, stalls and slashes;
    and how many distinct pieces of evidence the logs name. A kill shows when the launcher
    recorded it (`cluster kill`, `cluster restart`); a death it did not cause shows at the last
    line the node wrote before it started again, or before the end of the run if it is not
    running."""
    out: list[dict[str, Any]] = []
    evidence: set[tuple[Any, ...]] = set()
    for name, killed in sorted(run.kills.items()):
        out.extend(_event(t - t0, name, "kill", "killed") for t in killed)
    for name, log in sorted(run.logs.items()):
        killed = run.kills.get(name, [])
        previous: dict[str, Any] | None = None
        life = float("-inf")  # when this node last started
        started = cut = ended = False  # ended: it logged a stop or a crash since it started

        for r in log.records:
            event, t = r["event"], r["t"] - t0
            if event == "node_started":
                if started and not ended and previous and not _within(killed, life, r["t"]):
                    out.append(_event(previous["t"] - t0, name, "kill", "killed or crashed"))
                if started:
                    out.append(_event(t, name, "restart", "restarted"))
                started, cut, ended, life = True, False, False, r["t"]
            elif event == "node_stopping":
                ended = True
            elif event == "fault_crash":
                out.append(_event(t, name, "kill", "crash fault"))
                ended = True
            elif event in ("fault_set", "fault_cleared"):
                verb = "set" if event == "fault_set" else "cleared"
                out.append(_event(t, name, "fault", f"fault {verb}: {r.get('fault')}"))
            elif event == "partitioned":
                peers = r.get("peers")
                shown = ", ".join(map(str, peers)) if isinstance(peers, list) else "?"
                out.append(_event(t, name, "partition", f"cut off from {shown}"))
                cut = True
            elif event == "healed" and cut:
                out.append(_event(t, name, "partition", "healed"))
                cut = False
            elif event == "stall":
                out.append(_event(t, name, "stall", f"no commit for {r.get('since_ms')} ms"))
            elif event == "evidence_found":
                evidence.add((r.get("offender"), r.get("height"), r.get("kind")))
            previous = r
        gone = name not in run.running and not ended
        if gone and previous is not None and not _within(killed, life, float("inf")):
            out.append(_event(previous["t"] - t0, name, "kill", "killed or crashed"))
    for s in run.slashes:
        if s.height in commit_t:
            text = f"{s.offender} slashed {s.stake_before} -> {s.stake_after}"
            out.append(_event(commit_t[s.height] - t0, None, "slash", text))
    out.sort(key=lambda e: e["t"])
    return out[:MAX_EVENTS], len(evidence)


def _within(times: list[float], since: float, until: float) -> bool:
    return any(since <= t <= until for t in times)


def _event(t: float, node: str | None, kind: str, text: str) -> dict[str, Any]:
    return {"t": round(t, 3), "node": node, "kind": kind, "text": text}


def _latency(chain: list[Height], commits: dict[int, float], t0: float) -> dict[str, Any]:
    points = [
        (commits[h.height] - t0, max(0.0, (commits[h.height] - h.timestamp_ms / 1000) * 1000))
        for h in chain
        if h.height in commits
    ]
    return {
        "kind": "batch timestamp to first commit",
        "t": _thin([round(p[0], 3) for p in points]),
        "ms": _thin([round(p[1], 1) for p in points]),
    }


def _intervals(chain: list[Height], t0: float) -> dict[str, Any]:
    pairs = list(itertools.pairwise(chain))
    return {
        "kind": "interval between batch timestamps",
        "t": _thin([b.timestamp_ms / 1000 - t0 for _, b in pairs]),
        "ms": _thin([float(b.timestamp_ms - a.timestamp_ms) for a, b in pairs]),
    }


def _throughput(chain: list[Height], commit_t: dict[int, float], t0: float) -> dict[str, Any]:
    """Committed transactions per second, in THROUGHPUT_BIN_S bins from the first commit to
    the last (empty seconds count as zero)."""
    if not chain:
        return {"t": [], "tx_per_s": []}
    bins: defaultdict[int, int] = defaultdict(int)
    for h in chain:
        bins[int((commit_t[h.height] - t0) // THROUGHPUT_BIN_S)] += len(h.txs)
    first, last = min(bins), max(bins)
    return {
        "t": _thin([b * THROUGHPUT_BIN_S for b in range(first, last + 1)]),
        "tx_per_s": _thin([bins.get(b, 0) / THROUGHPUT_BIN_S for b in range(first, last + 1)]),
    }


def _inclusion(run: Run, commit_t: dict[int, float]) -> dict[str, Any]:
    """Submit to first commit (ms) of each recorded submission that committed, by sender and
    by namespace (as the chain says)."""
    where = {txid: (h.height, sender, ns) for h in run.chain for txid, sender, ns in h.txs}
    by_sender: defaultdict[str, list[float]] = defaultdict(list)
    by_namespace: defaultdict[str, list[float]] = defaultdict(list)
    for s in run.submissions:
        found = where.get(s.txid)
        if found is None:
            continue
        height, sender, namespace = found
        delay = round(max(0.0, commit_t[height] - s.t) * 1000, 1)
        by_sender[sender].append(delay)
        by_namespace[namespace].append(delay)
    return {
        "submissions": len(run.submissions),
        "by_sender": {k: _thin(v) for k, v in sorted(by_sender.items())},
        "by_namespace": {k: _thin(v) for k, v in sorted(by_namespace.items())},
    }


def _summary(
    run: Run, data: dict[str, Any], commit_t: dict[int, float], evidence: int
) -> dict[str, Any]:
    chain = run.chain
    times = sorted(commit_t.values())
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    txs = sum(len(h.txs) for h in chain)
    kinds: defaultdict[str, int] = defaultdict(int)
    for e in data["events"]:
        kinds[e["kind"]] += 1
    return {
        "directory": str(run.directory),
        "nodes": {
            name: {
                "last_height": run.chain_heights.get(name, 0),
                "log_lines": len(log.records),
                "unreadable_log_lines": log.unreadable,
                "inclusion_delay_ms": (log.censorship or {}).get("inclusion_delay", {}).get("ms"),
            }
            for name, log in sorted(run.logs.items())
        },
        "heights": len(chain),
        "first_height": chain[0].height if chain else None,
        "last_height": chain[-1].height if chain else None,
        "seconds": round(span, 3),
        "transactions": txs,
        "tx_per_s": round(txs / span, 2) if span else 0.0,
        "heights_per_s": round((len(chain) - 1) / span, 2) if span else 0.0,
        "latency_ms": summary(data["latency"]["ms"]),
        "latency_kind": data["latency"]["kind"],
        "heights_past_round_0": sum(1 for h in chain if h.round > 0),
        "max_rounds": max((h.round + 1 for h in chain), default=0),
        "slashes": len(run.slashes),
        "evidence_logged": evidence,
        "events": dict(sorted(kinds.items())),
        "submissions": len(run.submissions),
        "unreadable": run.unreadable,
    }


def _thin(values: list[Any]) -> list[Any]:
    """At most MAX_POINTS values, evenly spaced, first and last kept."""
    if len(values) <= MAX_POINTS:
        return values
    step = (len(values) - 1) / (MAX_POINTS - 1)
    return [values[round(i * step)] for i in range(MAX_POINTS)]
