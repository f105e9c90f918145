"""What `sequencer-net watch` draws, from what it polled: pure, so a test renders a frame.

The polling shell (:mod:`.monitor`) hands in one :class:`Sample` per node (process state, the
node's client-API status, its fault state from the admin API), the commits it heard on the
nodes' commit streams, and the events it noticed so far. :func:`view` turns them into a
:class:`View` (numbers and words, also what ``--json`` prints); :func:`frame` draws one.
:func:`changes` compares two rounds of samples and says what happened in between.

A chain counts as HALTED when no running node has committed for ``halt_after_ms`` (several
rounds' worth of timeouts), or when no node runs at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..percentiles import percentile
from .procs import ProcState
from .status import STATE_STYLE

WINDOW_S = 10.0  # tx/s and latency are over the commits of the last this many seconds
EVENTS_SHOWN = 6
LIVE, HALTED, DOWN = "LIVE", "HALTED", "DOWN"


@dataclass(frozen=True)
class Sample:
    """One node at one poll: None for what could not be asked (not running, no answer)."""

    name: str
    state: ProcState
    pid: int | None = None
    status: Mapping[str, Any] | None = None  # the client API's `status` answer
    faults: Sequence[str] | None = None  # from the admin API's fault_list
    partitioned_from: Sequence[str] | None = None


@dataclass(frozen=True)
class Commit:
    """A commit event from a node's commit stream (the subscribe_commits answer)."""

    height: int
    round: int
    txs: int
    timestamp_ms: int  # the proposer's batch timestamp
    committed_ms: int  # when the reporting node committed it


@dataclass(frozen=True)
class NodeRow:
    name: str
    state: str
    pid: int | None
    height: int | None
    round: int | None
    step: str | None
    since_commit_s: float | None
    peers: int | None
    mempool: int | None
    faults: list[str] | None
    partitioned_from: list[str] | None


@dataclass(frozen=True)
class View:
    """Everything a frame shows."""

    title: str
    chain: str  # LIVE, HALTED or DOWN
    reason: str
    height: int | None  # the highest committed height any node reports
    tx_per_s: float
    heights_per_s: float
    latency_p50_ms: float | None  # proposal timestamp to commit, last WINDOW_S
    latency_max_ms: float | None
    nodes: list[NodeRow]
    events: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def view(
    title: str,
    samples: Sequence[Sample],
    commits: Iterable[Commit],
    events: Sequence[str],
    now_ms: int,
    halt_after_ms: int,
    since_ms: int | None = None,
) -> View:
    """The numbers of one frame. ``commits`` may repeat a height (every node reports it):
    each height counts once, as its first report. Rates are over the last WINDOW_S, or over
    the time since ``since_ms`` (when watching began) if that is shorter."""
    rows = [_row(s) for s in samples]
    window_ms = WINDOW_S * 1000
    if since_ms is not None:
        window_ms = max(1.0, min(window_ms, now_ms - since_ms))
    recent: dict[int, Commit] = {}
    for c in commits:
        if now_ms - c.committed_ms <= window_ms and c.height not in recent:
            recent[c.height] = c
    latencies = sorted(max(0, c.committed_ms - c.timestamp_ms) for c in recent.values())
    heights = [r.height for r in rows if r.height is not None]
    chain, reason = _chain_state(samples, halt_after_ms)
    return View(
        title=title,
        chain=chain,
        reason=reason,
        height=max(heights) if heights else None,
        tx_per_s=round(sum(c.txs for c in recent.values()) * 1000 / window_ms, 1),
        heights_per_s=round(len(recent) * 1000 / window_ms, 2),
        latency_p50_ms=percentile(latencies, 0.5),
        latency_max_ms=percentile(latencies, 1.0),
        nodes=rows,
        events=list(events[-EVENTS_SHOWN:]),
    )


def _chain_state(samples: Sequence[Sample], halt_after_ms: int) -> tuple[str, str]:
    running = [s for s in samples if s.state is ProcState.ALIVE]
    if not running:
        return DOWN, "no node is running"
    ages = [
        age
        for s in running
        if s.status is not None and isinstance(age := s.status.get("last_commit_age_ms"), int)
    ]
    if not ages:
        return HALTED, "no running node answers"
    if min(ages) >= halt_after_ms:
        return HALTED, f"no node committed for {min(ages) / 1000:.1f} s"
    return LIVE, f"last commit {min(ages) / 1000:.1f} s ago"


def _row(s: Sample) -> NodeRow:
    status = s.status or {}
    age = _int(status.get("last_commit_age_ms"))
    peers = status.get("peers")
    return NodeRow(
        name=s.name,
        state=str(s.state),
        pid=s.pid,
        height=_int(status.get("height")),
        round=_int(status.get("round")),
        step=status["step"] if isinstance(status.get("step"), str) else None,
        since_commit_s=None if age is None else round(age / 1000, 1),
        peers=len(peers) if isinstance(peers, list) else None,
        mempool=_int(status.get("mempool")),
        faults=list(s.faults) if s.faults is not None else None,
        partitioned_from=list(s.partitioned_from) if s.partitioned_from is not None else None,
    )


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# ---- drawing ---------------------------------------------------------------------------------

CHAIN_STYLE = {LIVE: "bold white on green", HALTED: "bold white on red", DOWN: "bold white on red"}


def frame(v: View) -> RenderableType:
    """One screen: the chain's state in a coloured banner, the cluster figures, a row per node
    and the latest events."""
    banner = Text.assemble(
        (f" {v.chain} ", CHAIN_STYLE[v.chain]),
        f"  {v.reason}   committed height {_show(v.height)}   ",
        f"{v.tx_per_s:g} tx/s   {v.heights_per_s:g} heights/s   ",
        f"commit latency p50 {_ms(v.latency_p50_ms)} max {_ms(v.latency_max_ms)}",
        f" (last {WINDOW_S:g} s)",
    )
    table = Table(
        title=v.title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for column, justify in (
        ("node", "left"),
        ("state", "left"),
        ("height", "right"),
        ("round", "right"),
        ("step", "left"),
        ("since commit", "right"),
        ("peers", "right"),
        ("mempool", "right"),
    ):
        table.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    table.add_column("faults", overflow="fold", min_width=12)
    others = len(v.nodes) - 1
    for r in v.nodes:
        table.add_row(
            r.name,
            f"[{STATE_STYLE[ProcState(r.state)]}]{r.state}[/]",
            _show(r.height),
            _show(r.round) if not r.round else f"[yellow]{r.round}[/]",
            _show(r.step),
            _age(r.since_commit_s, v.chain),
            "-" if r.peers is None else f"{r.peers}/{others}",
            _show(r.mempool),
            _faults(r),
        )
    lines = v.events or ["(no events yet)"]
    events = Text("events: ", style="bold")
    events.append("\n".join(lines))
    return Group(banner, table, events)


def _faults(r: NodeRow) -> str:
    parts = list(r.faults or [])
    if r.partitioned_from:
        parts.append("cut off from " + ",".join(r.partitioned_from))
    if not parts:
        return "-" if r.faults is None else ""
    return f"[magenta]{'; '.join(parts)}[/]"


def _age(seconds: float | None, chain: str) -> str:
    if seconds is None:
        return "-"
    return f"[red]{seconds:.1f}s[/]" if chain == HALTED else f"{seconds:.1f}s"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:g} ms"


def _show(value: object) -> str:
    return "-" if value is None else str(value)


# ---- what changed ----------------------------------------------------------------------------


def changes(
    before: Sequence[Sample] | None,
    after: Sequence[Sample],
    chain_before: str | None,
    chain_after: str,
    clock: str,
) -> list[str]:
    """The events between two polls, each a line starting with ``clock`` (HH:MM:SS): process
    deaths and restarts, faults set and cleared, partitions, slashes and new evidence, round
    changes past 0, and the chain halting or resuming."""
    out: list[str] = []
    if chain_before is not None and chain_before != chain_after:
        out.append(f"{clock} chain {chain_after}")
    if before is None:
        return out
    old = {s.name: s for s in before}
    for s in after:
        p = old.get(s.name)
        if p is None:
            continue
        out.extend(f"{clock} {line}" for line in _node_changes(p, s))
    out.extend(f"{clock} {line}" for line in _slash_changes(before, after))
    return out


def commit_event(c: Commit, clock: str) -> str | None:
    """A line for a height that needed more than round 0 (a failed proposer, a slow quorum)."""
    if c.round == 0:
        return None
    return f"{clock} height {c.height} committed in round {c.round}"


def _node_changes(p: Sample, s: Sample) -> list[str]:
    out = []
    if p.state != s.state:
        out.append(f"{s.name} {s.state}" + (" (crashed or killed)" if s.state == "dead" else ""))
    elif p.pid is not None and s.pid is not None and p.pid != s.pid:
        out.append(f"{s.name} restarted (pid {s.pid})")
    if p.faults is not None and s.faults is not None:
        for spec in sorted(set(s.faults) - set(p.faults)):
            out.append(f"{s.name} fault set: {spec}")
        for spec in sorted(set(p.faults) - set(s.faults)):
            out.append(f"{s.name} fault cleared: {spec}")
    if (
        p.partitioned_from is not None
        and s.partitioned_from is not None
        and list(p.partitioned_from) != list(s.partitioned_from)
    ):
        cut = ", ".join(s.partitioned_from)
        out.append(f"{s.name} " + (f"partitioned from {cut}" if cut else "healed"))
    if p.status is not None and s.status is not None:
        round_now = s.status.get("round")
        if isinstance(round_now, int) and round_now > 0 and round_now != p.status.get("round"):
            out.append(f"{s.name} in round {round_now} of height {_next(s.status)}")
    return out


def _next(status: Mapping[str, Any]) -> str:
    height = status.get("height")
    return str(height + 1) if isinstance(height, int) else "?"


def _slash_changes(before: Sequence[Sample], after: Sequence[Sample]) -> list[str]:
    """Evidence committed against a validator: its count went up on some node (once per
    validator, however many nodes show it)."""
    old, new = _evidence(before), _evidence(after)
    out = []
    for name, (count, power) in sorted(new.items()):
        if count > old.get(name, (count, power))[0]:
            out.append(f"{name} slashed (evidence #{count}, power now {power})")
    return out


def _evidence(samples: Sequence[Sample]) -> dict[str, tuple[int, int]]:
    """Validator name -> (the most evidence any node counts against it, its power there)."""
    most: dict[str, tuple[int, int]] = {}
    for s in samples:
        for v in _validators(s.status or {}):
            name, count, power = v.get("name"), v.get("evidence"), v.get("power")
            if (
                isinstance(name, str)
                and isinstance(count, int)
                and isinstance(power, int)
                and count > most.get(name, (-1, 0))[0]
            ):
                most[name] = (count, power)
    return most


def _validators(status: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    validators = status.get("validators")
    if not isinstance(validators, list):
        return []
    return [v for v in validators if isinstance(v, Mapping)]
