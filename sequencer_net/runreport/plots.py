"""Draw a run report: PNGs with matplotlib (the ``report`` extra) and an offline index.html,
from :func:`.data.report_data`'s numbers only (saved beside them as data.json)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from .data import report_data
from .record import read

# How each kind of event is marked on the heights plot.
MARKS = {
    "fault": ("tab:purple", ":"),
    "partition": ("tab:orange", "--"),
    "kill": ("tab:red", "-"),
    "restart": ("tab:green", "-."),
    "slash": ("black", "-"),
    "stall": ("tab:gray", ":"),
}
DPI = 100


def write_report(directory: Path, out: Path) -> tuple[Path, dict[str, Any]]:
    """Read the run in ``directory``, write the plots, data.json and index.html to ``out``;
    returns the page's path and the summary."""
    data = report_data(read(directory))
    out.mkdir(parents=True, exist_ok=True)
    (out / "data.json").write_text(json.dumps(data))
    pictures = draw(data, out)
    page = out / "index.html"
    page.write_text(_page(data, pictures))
    return page, data["summary"]


def draw(data: dict[str, Any], out: Path) -> dict[str, str]:
    """Every PNG, by file name with its caption."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pictures: dict[str, str] = {}

    def save(fig: Any, name: str, caption: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=DPI)
        plt.close(fig)
        pictures[name] = caption

    fig, ax = plt.subplots(figsize=(10, 5))
    for name, series in data["heights"].items():
        ax.plot(series["t"], series["h"], label=name, drawstyle="steps-post")
    labelled: set[str] = set()
    for e in data["events"]:
        colour, style = MARKS[e["kind"]]
        label = e["kind"] if e["kind"] not in labelled else None
        labelled.add(e["kind"])
        ax.axvline(e["t"], color=colour, linestyle=style, alpha=0.6, label=label)
    ax.set_xlabel("seconds since the run began")
    ax.set_ylabel("committed height")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    save(
        fig,
        "heights.png",
        f"Heights over time per node ({data['commit_times']}), with fault, partition, "
        "kill, restart, stall and slash events",
    )

    latency = data["latency"]
    fig, (hist, over) = plt.subplots(1, 2, figsize=(11, 4))
    if latency["ms"]:
        hist.hist(latency["ms"], bins=40, color="tab:blue")
    hist.set_xlabel("ms")
    hist.set_ylabel("heights")
    hist.set_title(f"distribution: {latency['kind']}", fontsize=9)
    over.plot(latency["t"], latency["ms"], ".", markersize=3)
    over.set_xlabel("seconds since the run began")
    over.set_ylabel("ms")
    over.set_title("over time", fontsize=9)
    for ax in (hist, over):
        ax.grid(True, alpha=0.3)
    save(fig, "latency.png", f"Commit latency ({latency['kind']})")

    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(data["throughput"]["t"], data["throughput"]["tx_per_s"], drawstyle="steps-post")
    ax.set_xlabel("seconds since the run began")
    ax.set_ylabel("committed tx/s")
    ax.grid(True, alpha=0.3)
    save(fig, "throughput.png", "Committed transactions per second (1 s bins)")

    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(data["rounds"]["heights"], data["rounds"]["rounds"], ".", markersize=3)
    ax.set_xlabel("height")
    ax.set_ylabel("rounds to commit")
    ax.grid(True, alpha=0.3)
    save(fig, "rounds.png", "Rounds each height needed (1: decided in round 0)")

    inclusion = data["inclusion"]
    fig, (senders, spaces) = plt.subplots(1, 2, figsize=(11, 4))
    for ax, groups, what in (
        (senders, inclusion["by_sender"], "sender"),
        (spaces, inclusion["by_namespace"], "namespace"),
    ):
        if groups:
            ax.boxplot(list(groups.values()), tick_labels=list(groups))
        else:
            ax.text(0.5, 0.5, "no recorded submissions", ha="center", va="center")
        ax.set_title(f"by {what}", fontsize=9)
        ax.set_ylabel("submit to commit, ms")
        ax.grid(True, alpha=0.3)
    save(
        fig,
        "inclusion.png",
        f"Inclusion delay per sender and namespace ({inclusion['submissions']} recorded "
        "submissions)",
    )
    return pictures


def _page(data: dict[str, Any], pictures: dict[str, str]) -> str:
    e = html.escape
    s = data["summary"]
    latency = s["latency_ms"]
    rows = [
        ("directory", s["directory"]),
        ("heights", f"{s['heights']} ({s['first_height']} to {s['last_height']})"),
        ("seconds", f"{s['seconds']:g}"),
        ("transactions", f"{s['transactions']} ({s['tx_per_s']:g} tx/s)"),
        ("heights per second", f"{s['heights_per_s']:g}"),
        (
            f"latency ms ({s['latency_kind']})",
            f"p50 {latency['p50']}, p99 {latency['p99']}, max {latency['max']}",
        ),
        ("heights past round 0", f"{s['heights_past_round_0']} (most rounds: {s['max_rounds']})"),
        ("slashes", str(s["slashes"])),
        ("evidence logged", str(s["evidence_logged"])),
        ("events", ", ".join(f"{k} {v}" for k, v in s["events"].items()) or "none"),
        ("recorded submissions", str(s["submissions"])),
        ("commit times from", data["commit_times"]),
    ]
    table = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    node_rows = "".join(
        f"<tr><td>{e(name)}</td><td>{n['last_height']}</td><td>{n['log_lines']}</td>"
        f"<td>{n['unreadable_log_lines']}</td><td>{e(json.dumps(n['inclusion_delay_ms']))}</td>"
        "</tr>"
        for name, n in s["nodes"].items()
    )
    events = "".join(
        f"<tr><td>{ev['t']:.1f}</td><td>{e(ev['node'] or 'chain')}</td><td>{e(ev['kind'])}</td>"
        f"<td>{e(ev['text'])}</td></tr>"
        for ev in data["events"][:200]
    )
    figures = "".join(
        f'<figure><img src="{e(name)}" alt="{e(caption)}"><figcaption>{e(caption)}'
        "</figcaption></figure>"
        for name, caption in pictures.items()
    )
    problems = "".join(f"<li>{e(u)}</li>" for u in s["unreadable"])
    title = e(f"sequencer-net run: {Path(s['directory']).name}")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}img{{max-width:100%}}</style>
</head><body>
<h1>{title}</h1>
<table>{table}</table>
<table><tr><th>node</th><th>last height</th><th>log lines</th><th>unreadable</th>
<th>inclusion delay ms (its censorship.json)</th></tr>{node_rows}</table>
{f"<p>Not read:</p><ul>{problems}</ul>" if problems else ""}
{figures}
<h2>Events (first 200)</h2>
<table><tr><th>s</th><th>node</th><th>kind</th><th>what</th></tr>{events}</table>
<p>Raw numbers: <a href="data.json">data.json</a>.</p>
</body></html>
"""
