"""`sequencer-net report`: the numbers handed to matplotlib are the recorded run's, and what
it writes are real, non-blank PNGs and a page that shows them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib import image
from matplotlib.axes import Axes

from sequencer_net.cluster import kills
from sequencer_net.risk.runlog import NodeLog
from sequencer_net.runreport.data import report_data
from sequencer_net.runreport.plots import draw
from sequencer_net.runreport.record import Height, Run, Slash, Submission

T0 = 1_700_000_000.0
PNGS = ("heights.png", "latency.png", "throughput.png", "rounds.png", "inclusion.png")


def rec(t: float, event: str, **fields: Any) -> dict[str, Any]:
    return {"t": T0 + t, "event": event, **fields}


def chain() -> list[Height]:
    """Five heights, a batch timestamp 0.2 s before each commits (at 2, 3, 4, ... s); height
    4 needed round 2; heights 2 and 4 carry transactions."""
    txs = {2: (("aa", "alice", "ns-a"), ("bb", "bob", "ns-a")), 4: (("cc", "alice", "ns-b"),)}
    return [
        Height(h, int((T0 + h + 1 - 0.2) * 1000), 2 if h == 4 else 0, "n1", txs.get(h, ()))
        for h in range(1, 6)
    ]


def recorded(with_commit_lines: bool = True) -> Run:
    """n1 commits every height; n2 commits 1..3, is killed, restarts and catches up; n1 is
    partitioned and healed, gets a fault, and a slash is committed at height 3."""

    def committed(t: float, h: int) -> list[dict[str, Any]]:
        return [rec(t, "committed", height=h, round=0, txs=0)] if with_commit_lines else []

    n1 = NodeLog("n1", [rec(0, "node_started", height=1)])
    n1.records += [r for h in range(1, 6) for r in committed(h + 1, h)]
    n1.records += [
        rec(2.5, "fault_set", fault="equivocate"),
        rec(3.5, "partitioned", peers=["n2"]),
        rec(4.5, "healed"),
        rec(4.6, "healed"),  # a heal of a node not cut off marks nothing
        rec(5.5, "evidence_found", offender="n1", height=3, kind="DuplicateVote"),
    ]
    n1.records.sort(key=lambda r: r["t"])
    n2 = NodeLog("n2", [rec(0.1, "node_started", height=1)])
    n2.records += [r for h in range(1, 4) for r in committed(h + 1.1, h)]
    n2.records += [rec(4.2, "peer_connected")]  # its last line before the kill
    n2.records += [rec(8.0, "node_started", height=4), rec(8.1, "stall", since_ms=7000)]
    n2.records += [r for h in (4, 5) for r in committed(8.2 + h / 10, h)]
    n2.records += [rec(9.0, "node_stopping"), rec(9.1, "peer_disconnected")]
    n2.records += [rec(10.0, "node_started", height=6)]
    return Run(
        directory=Path("/runs/x"),
        logs={"n1": n1, "n2": n2},
        chain=chain(),
        chain_heights={"n1": 5, "n2": 5},
        slashes=[Slash(3, "n1", 10, 5)],
        submissions=[
            Submission("aa", "alice", "ns-a", T0 + 2.5),
            Submission("bb", "bob", "ns-a", T0 + 2.9),
            Submission("cc", "alice", "ns-b", T0 + 1.0),
            Submission("zz", "carol", "ns-a", T0 + 1.0),  # never committed: not counted
        ],
        unreadable=[],
        running=frozenset({"n1", "n2"}),
    )


def test_data_is_the_recorded_runs_numbers() -> None:
    data = report_data(recorded())
    assert data["commit_times"] == "log"
    assert data["t0"] == pytest.approx(T0)
    assert data["heights"]["n1"] == {"t": [2.0, 3.0, 4.0, 5.0, 6.0], "h": [1, 2, 3, 4, 5]}
    n2 = data["heights"]["n2"]
    assert n2["h"] == [1, 2, 3, 4, 5]
    assert n2["t"] == pytest.approx([2.1, 3.1, 4.1, 8.6, 8.7])
    kinds = [(e["kind"], e["node"], e["t"], e["text"]) for e in data["events"]]
    assert kinds == [
        ("fault", "n1", 2.5, "fault set: equivocate"),
        ("partition", "n1", 3.5, "cut off from n2"),
        ("slash", None, 4.0, "n1 slashed 10 -> 5"),  # at height 3's first commit
        ("kill", "n2", 4.2, "killed or crashed"),
        ("partition", "n1", 4.5, "healed"),
        ("restart", "n2", 8.0, "restarted"),
        ("stall", "n2", 8.1, "no commit for 7000 ms"),
        ("restart", "n2", 10.0, "restarted"),  # after node_stopping: no kill
    ]
    latency = data["latency"]
    assert latency["t"] == [2.0, 3.0, 4.0, 5.0, 6.0]
    assert latency["ms"] == pytest.approx([200.0] * 5, abs=1)
    assert data["throughput"] == {"t": [2.0, 3.0, 4.0, 5.0, 6.0], "tx_per_s": [0, 2, 0, 1, 0]}
    assert data["rounds"] == {"heights": [1, 2, 3, 4, 5], "rounds": [1, 1, 1, 3, 1]}
    inclusion = data["inclusion"]
    assert inclusion["submissions"] == 4
    # aa and bb commit at height 2 (3.0 s), cc at height 4 (5.0 s).
    assert inclusion["by_sender"] == {"alice": [500.0, 4000.0], "bob": [100.0]}
    assert inclusion["by_namespace"] == {"ns-a": [500.0, 100.0], "ns-b": [4000.0]}
    s = data["summary"]
    assert (s["heights"], s["transactions"], s["slashes"], s["evidence_logged"]) == (5, 3, 1, 1)
    assert s["heights_past_round_0"] == 1 and s["max_rounds"] == 3
    assert s["seconds"] == 4.0 and s["tx_per_s"] == 0.75
    assert s["events"] == {
        "fault": 1,
        "kill": 1,
        "partition": 2,
        "restart": 2,
        "slash": 1,
        "stall": 1,
    }


def test_a_log_that_stops_of_a_node_not_running_ends_at_a_kill() -> None:
    run = recorded()
    run.running = frozenset({"n1"})  # n2 last wrote node_started at 10.0 s, and is gone
    kills = [(e["node"], e["t"]) for e in report_data(run)["events"] if e["kind"] == "kill"]
    assert kills == [("n2", 4.2), ("n2", 10.0)]
    run.logs["n2"].records += [rec(11.0, "node_stopping"), rec(11.1, "peer_disconnected")]
    kills = [(e["node"], e["t"]) for e in report_data(run)["events"] if e["kind"] == "kill"]
    assert kills == [("n2", 4.2)]  # a clean stop is no kill, whatever it logs after


def test_a_kill_the_launcher_recorded_shows_when_it_happened_not_at_the_last_line() -> None:
    run = recorded()
    run.running = frozenset({"n1"})
    run.kills = {"n2": [T0 + 6.5, T0 + 12.0]}  # cluster kill at 6.5 s, and after the restart
    kills = [
        (e["node"], e["t"], e["text"]) for e in report_data(run)["events"] if e["kind"] == "kill"
    ]
    assert kills == [("n2", 6.5, "killed"), ("n2", 12.0, "killed")], "no guess beside them"


def test_recorded_kills_are_read_back_bounded_and_past_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "kills.jsonl"
    kills.record(path, "n3")
    with open(path, "a") as f:
        f.write("not json\n" + '{"t": "x", "node": "n1"}\n' + '{"node": "n1"}\n')
    kills.record(path, "n3")
    times = kills.read(path)["n3"]
    assert list(kills.read(path)) == ["n3"] and len(times) == 2 and times[0] <= times[1]
    assert kills.read(tmp_path / "missing.jsonl") == {}


def test_without_commit_lines_the_batch_timestamps_stand_in() -> None:
    """A log level that drops per-height lines still gives a report, from the chain."""
    run = recorded(with_commit_lines=False)
    run.chain_heights["n2"] = 3  # n2 stored only 1..3
    data = report_data(run)
    assert data["commit_times"] == "batch timestamps"
    assert data["heights"]["n1"]["h"] == [1, 2, 3, 4, 5]
    assert data["heights"]["n1"]["t"] == pytest.approx([1.8, 2.8, 3.8, 4.8, 5.8])
    assert data["heights"]["n2"]["h"] == [1, 2, 3]
    assert data["latency"]["kind"] == "interval between batch timestamps"
    assert data["latency"]["ms"] == [1000.0] * 4
    assert data["inclusion"]["by_sender"]["bob"] == [0.0]  # submitted after its timestamp


def test_plots_draw_that_data_into_non_blank_pngs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[tuple[Any, list[float], list[float]]] = []
    original = Axes.plot

    def record(self: Axes, x: Any, y: Any, *a: Any, **k: Any) -> Any:
        drawn.append((k.get("label"), list(x), list(y)))
        return original(self, x, y, *a, **k)

    monkeypatch.setattr(Axes, "plot", record)
    for method in ("hist", "boxplot"):
        monkeypatch.setattr(Axes, method, _recording(getattr(Axes, method), method, drawn))
    data = report_data(recorded())
    pictures = draw(data, tmp_path)
    assert set(pictures) == set(PNGS)
    expected = [(name, s["t"], s["h"]) for name, s in data["heights"].items()]
    expected += [
        (None, data["latency"]["t"], data["latency"]["ms"]),
        (None, data["throughput"]["t"], data["throughput"]["tx_per_s"]),
        (None, data["rounds"]["heights"], data["rounds"]["rounds"]),
    ]
    plotted = [d for d in drawn if d[0] not in ("hist", "boxplot")]
    assert plotted[: len(expected)] == expected  # then the lines boxplot draws itself
    inclusion = data["inclusion"]
    assert [d for d in drawn if d[0] in ("hist", "boxplot")] == [
        ("hist", data["latency"]["ms"], []),
        ("boxplot", list(inclusion["by_sender"].values()), list(inclusion["by_sender"])),
        ("boxplot", list(inclusion["by_namespace"].values()), list(inclusion["by_namespace"])),
    ]
    for name in PNGS:
        pixels = image.imread(tmp_path / name)
        assert pixels.ndim == 3 and pixels.shape[0] > 200 and pixels.shape[1] > 300
        colours = np.unique(pixels.reshape(-1, pixels.shape[2]), axis=0)
        assert len(colours) > 20, name  # axes, text and lines, not a blank canvas


def _recording(original: Any, method: str, drawn: list[Any]) -> Any:
    def record(self: Axes, values: Any, *a: Any, **k: Any) -> Any:
        drawn.append((method, list(values), list(k.get("tick_labels", []))))
        return original(self, values, *a, **k)

    return record
